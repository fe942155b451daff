// `ckpt check`: tries every kernel feature ckpt uses and reports each as ok
// or missing; exits 1 when dump or restore would not work here. `--host`
// adds what a migration must match (cli/MigrateCommand.cpp asks it over ssh).
#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "core/check/KernelFeatures.hpp"
#include "core/image/Model.hpp"

namespace ckpt::cli {

int checkCommand(bool json, bool host) {
  std::vector<check::Feature> features = check::checkAll();
  bool usable = check::requiredPresent(features);

  if (json || host) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : features)
      out.push_back(
          {{"name", f.name}, {"ok", f.ok}, {"required", f.required}, {"detail", f.detail}});
    if (host) {
      // An object, so that `check --json` stays the array scripts already read.
      struct utsname u {};
      uname(&u);
      out = {{"ckpt_version", CKPT_VERSION},
             {"image_formats", {image::kOldestFormatVersion, image::kFormatVersion}},
             {"machine", u.machine},
             {"kernel", u.release},
             {"usable", usable},
             {"features", out}};
    }
    fmt::print("{}\n", out.dump(2));
    return usable ? 0 : 1;
  }

  size_t width = 7;
  for (const auto& f : features) width = std::max(width, f.name.size());
  fmt::print("{:<{}}  {:<7}  {:<8}  {}\n", "FEATURE", width, "STATUS", "NEEDED", "DETAIL");
  for (const auto& f : features)
    fmt::print("{:<{}}  {:<7}  {:<8}  {}\n", f.name, width, f.ok ? "ok" : "missing",
               f.required ? "required" : "optional", f.detail);

  std::string lacking;
  for (const auto& f : features)
    if (f.required && !f.ok) lacking += (lacking.empty() ? "" : ", ") + f.name;
  if (usable)
    fmt::print("\nEvery feature that dump and restore require is present.\n");
  else
    fmt::print("\nMissing what dump and restore require: {}.\n", lacking);
  return usable ? 0 : 1;
}

}  // namespace ckpt::cli
