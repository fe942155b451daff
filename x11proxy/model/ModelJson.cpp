// The resource model as JSON (see ModelJson.hpp).
#include "x11proxy/model/ModelJson.hpp"

#include <fmt/format.h>

#include "x11proxy/model/ModelMemory.hpp"

namespace ckpt::x11 {
namespace {

std::string hex(std::uint32_t id) {
  return fmt::format("{:#x}", id);
}

nlohmann::json values(const ValueMap& m) {
  auto out = nlohmann::json::object();
  for (auto [bit, v] : m) out[hex(bit)] = v;
  return out;
}

}  // namespace

nlohmann::json modelToJson(const ClientModel& model) {
  // Atoms 1-68 are predefined; the rest by the names the client interned.
  auto atomName = [&](std::uint32_t atom) {
    auto it = model.atomNames.find(atom);
    return it != model.atomNames.end() ? it->second : std::to_string(atom);
  };
  nlohmann::json j;
  j["windows"] = nlohmann::json::array();
  for (const auto& [id, w] : model.windows) {
    nlohmann::json props = nlohmann::json::object();
    for (const auto& [atom, p] : w.properties)
      props[atomName(atom)] = {
          {"type", atomName(p.type)},
          {"format", p.format},
          {"bytes", p.data.size()},
          {"text", p.format == 8 ? std::string(p.data.begin(), p.data.end()) : std::string()}};
    j["windows"].push_back({{"id", hex(id)},
                            {"parent", hex(w.parent)},
                            {"x", w.x},
                            {"y", w.y},
                            {"width", w.width},
                            {"height", w.height},
                            {"border", w.borderWidth},
                            {"depth", w.depth},
                            {"visual", hex(w.visual)},
                            {"mapped", w.mapped},
                            {"attributes", values(w.attributes)},
                            {"properties", props}});
  }
  j["pixmaps"] = nlohmann::json::array();
  for (const auto& [id, p] : model.pixmaps)
    j["pixmaps"].push_back(
        {{"id", hex(id)}, {"depth", p.depth}, {"width", p.width}, {"height", p.height}});
  j["gcs"] = nlohmann::json::array();
  for (const auto& [id, g] : model.gcs)
    j["gcs"].push_back(
        {{"id", hex(id)}, {"drawable", hex(g.drawable)}, {"values", values(g.values)}});
  j["atoms"] = model.atomsByName;
  j["counts"] = {{"windows", model.windows.size()},
                 {"pixmaps", model.pixmaps.size()},
                 {"gcs", model.gcs.size()},
                 {"fonts", model.fonts.size()},
                 {"cursors", model.cursors.size()},
                 {"colormaps", model.colormaps.size()},
                 {"render_objects", model.renderObjects.size()},
                 {"regions", model.regions.size()},
                 {"atoms", model.atomsByName.size()}};
  j["memory_bytes"] = modelMemory(model);
  return j;
}

}  // namespace ckpt::x11
