// Error formatting: system errors carry strerror text.
#include <gtest/gtest.h>

#include "core/util/Error.hpp"

TEST(Error, SysErrorCarriesErrnoText) {
  ckpt::SysError e("open /nonexistent", ENOENT);
  EXPECT_EQ(e.err(), ENOENT);
  EXPECT_STREQ(e.what(), "open /nonexistent: No such file or directory");
}
