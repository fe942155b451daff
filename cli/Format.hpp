// How the commands show sizes and times to a person.
#pragma once

#include <cstdint>
#include <string>

namespace ckpt::cli {

std::string humanBytes(uint64_t n);   // "512 B", "1.5 MiB"
std::string localTime(int64_t unix);  // "2026-11-25 02:30:00 +0000"

}  // namespace ckpt::cli
