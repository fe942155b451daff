// Kernel feature checks: every check runs and answers in one line, and the
// features that dump and restore require are present on the machines we
// build on (Debian 12 kernels as root; see NOTES-core.md).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <set>

#include "core/check/KernelFeatures.hpp"
#include "core/util/Error.hpp"

namespace ckpt::check {
namespace {

TEST(KernelFeatures, EveryCheckAnswersInOneLine) {
  std::vector<Feature> features = checkAll();
  ASSERT_EQ(features.size(), featureNames().size());
  std::set<std::string> seen;
  for (const Feature& f : features) {
    EXPECT_TRUE(seen.insert(f.name).second) << "duplicate " << f.name;
    EXPECT_FALSE(f.detail.empty()) << f.name;
    EXPECT_EQ(f.detail.find('\n'), std::string::npos) << f.name << ": " << f.detail;
  }
}

TEST(KernelFeatures, RequiredFeaturesArePresent) {
  std::vector<Feature> features = checkAll();
  for (const Feature& f : features) {
    if (f.required) {
      EXPECT_TRUE(f.ok) << f.name << ": " << f.detail;
    }
  }
  EXPECT_TRUE(requiredPresent(features));
}

TEST(KernelFeatures, OptionalFeaturesOfEveryDebian12KernelWork) {
  // Present since 5.9 at the latest, so on Debian 12's own 6.1 too. The newer
  // ones (uffd WP_ASYNC, PAGEMAP_SCAN: 6.7) are only required to answer.
  for (const char* name :
       {"ptrace_get_syscall_info", "userfaultfd", "memfd_create", "close_range"}) {
    Feature f = checkOne(name);
    EXPECT_TRUE(f.ok) << name << ": " << f.detail;
  }
}

TEST(KernelFeatures, VdsoLayoutNamesAllThreeAreas) {
  Feature f = checkOne("vdso_layout");
  ASSERT_TRUE(f.ok) << f.detail;
  EXPECT_NE(f.detail.find("[vdso]"), std::string::npos) << f.detail;
  EXPECT_NE(f.detail.find("[vvar]"), std::string::npos) << f.detail;
  EXPECT_NE(f.detail.find("[vvar_vclock]"), std::string::npos) << f.detail;
}

TEST(KernelFeatures, Clone3SetTidAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_CHECKPOINT_RESTORE)";
  Feature f = checkOne("clone3_set_tid");
  EXPECT_TRUE(f.ok) << f.detail;
  EXPECT_NE(f.detail.find("chosen pid"), std::string::npos) << f.detail;
}

TEST(KernelFeatures, RequiredPresentFollowsRequiredOnly) {
  std::vector<Feature> fs = {{"a", true, true, "x"}, {"b", false, false, "y"}};
  EXPECT_TRUE(requiredPresent(fs));
  fs.push_back({"c", true, false, "z"});
  EXPECT_FALSE(requiredPresent(fs));
}

TEST(KernelFeatures, UnknownNameThrows) {
  EXPECT_THROW(checkOne("no_such_feature"), Error);
}

TEST(KernelFeatures, ChecksLeaveNoChildren) {
  checkAll();
  // Every forked child was reaped: nothing is left to wait for.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace ckpt::check
