// `restarted` to the hooks of a restored tree.
#include "core/hooks/RestartHooks.hpp"

#include <optional>

#include <fmt/format.h>

#include "core/hooks/HookClient.hpp"
#include "core/hooks/HookMessages.hpp"
#include "core/util/Log.hpp"

namespace ckpt::hooks {

std::vector<std::string> notifyRestarted(const std::vector<image::Hook>& hooks,
                                         const std::map<std::string, std::string>& options,
                                         std::chrono::milliseconds timeout) {
  std::vector<std::string> errors;
  const auto deadline = Clock::now() + timeout;
  const std::string message = restartedMessage(options);
  auto who = [](const image::Hook& h) { return fmt::format("pid {} hook {}", h.pid, h.name); };
  // Everyone is told first, so the programs restart side by side.
  std::vector<std::optional<HookClient>> clients;
  for (const auto& h : hooks) {
    auto& client = clients.emplace_back();
    try {
      client.emplace(HookClient::connect(h.name, deadline));
      client->send(message, deadline);
    } catch (const Error& e) {
      client.reset();
      errors.push_back(
          fmt::format("{}: cannot tell it that it was restored: {}", who(h), e.what()));
    }
  }
  for (size_t i = 0; i < hooks.size(); ++i) {
    if (!clients[i]) continue;
    try {
      Reply r = parseReply(clients[i]->receive(deadline));
      if (!r.ok)
        errors.push_back(fmt::format("{} failed to restart: {}", who(hooks[i]), r.error));
      else
        log::info("{} restarted", who(hooks[i]));
    } catch (const HookTimeout&) {
      errors.push_back(fmt::format("{}: no answer to restarted within {} (--hook-timeout)",
                                   who(hooks[i]), describeTimeout(timeout)));
    } catch (const Error& e) {
      errors.push_back(fmt::format("{}: {}", who(hooks[i]), e.what()));
    }
  }
  return errors;
}

}  // namespace ckpt::hooks
