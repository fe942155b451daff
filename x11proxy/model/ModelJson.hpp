// The resource model as JSON: what `ckpt x11 run` prints on SIGUSR1 (for
// people and tests), and later what the image stores.
#pragma once

#include <nlohmann/json.hpp>

#include "x11proxy/model/ClientModel.hpp"

namespace ckpt::x11 {

nlohmann::json modelToJson(const ClientModel& model);

}  // namespace ckpt::x11
