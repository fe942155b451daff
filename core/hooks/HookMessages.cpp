// Hook protocol messages, encoded and parsed with nlohmann::json.
#include "core/hooks/HookMessages.hpp"

#include <fmt/format.h>

#include <climits>

#include <nlohmann/json.hpp>

#include "core/util/Error.hpp"

namespace ckpt::hooks {
namespace {

using Json = nlohmann::json;

// Strings that are not UTF-8 (a path can be any bytes) must not make the
// message unwritable: replace what JSON cannot carry.
std::string dumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string shortText(std::string_view text) {
  std::string s(text.substr(0, 60));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return text.size() > 60 ? s + "..." : s;
}

}  // namespace

std::string preDumpMessage(const std::string& image, bool kill) {
  return dumpJson({{"event", "pre-dump"}, {"image", image}, {"kill", kill}});
}

std::string resumedMessage() {
  return dumpJson({{"event", "resumed"}});
}

std::string dumpFailedMessage(const std::string& error) {
  return dumpJson({{"event", "resumed"}, {"dump_failed", true}, {"error", error}});
}

std::string restartedMessage(const std::map<std::string, std::string>& options) {
  Json o = Json::object();
  for (const auto& [k, v] : options) o[k] = v;
  return dumpJson({{"event", "restarted"}, {"options", o}});
}

Reply parseReply(std::string_view text) {
  Json j;
  try {
    j = Json::parse(text.begin(), text.end());
  } catch (const Json::exception&) {
    throw Error(fmt::format("its reply is not JSON: \"{}\"", shortText(text)));
  }
  if (!j.is_object())
    throw Error(fmt::format("its reply is not a JSON object: {}", shortText(text)));
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean())
    throw Error(fmt::format("its reply has no \"ok\": true or false: {}", shortText(text)));
  Reply r;
  r.ok = ok->get<bool>();
  if (!r.ok) {
    auto e = j.find("error");
    r.error = e != j.end() && e->is_string() && !e->get_ref<const std::string&>().empty()
                  ? e->get<std::string>()
                  : "no reason given";
    return r;
  }
  auto ext = j.find("external");
  if (ext == j.end() || ext->is_null()) return r;
  if (!ext->is_array()) throw Error("its reply's \"external\" is not an array of fds");
  for (const auto& fd : *ext) {
    if (!fd.is_number_integer() || fd.get<int64_t>() < 0 || fd.get<int64_t>() > INT_MAX)
      throw Error(
          fmt::format("its reply's \"external\" holds {}, not an fd", shortText(fd.dump())));
    r.external.push_back(fd.get<int>());
  }
  return r;
}

}  // namespace ckpt::hooks
