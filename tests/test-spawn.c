/* Unit tests for spawn: argv display quoting, capture, error text, the parallel pool. */
#include <sys/wait.h>

#include "core/spawn.h"

static void
test_display (void)
{
  const char *argv[] = { "aws", "ec2", "x y", "it's", "$(rm -rf /)", "", NULL };
  g_autofree char *s = ferry_argv_display (argv);
  g_auto(GStrv) back = NULL;
  int n = 0;

  g_assert_true (g_shell_parse_argv (s, &n, &back, NULL) || FALSE);
  g_assert_cmpint (n, ==, 6);
  for (int i = 0; i < n; i++)
    g_assert_cmpstr (back[i], ==, argv[i]);
}

static void
test_capture (void)
{
  const char *argv[] = { "sh", "-c", "cat; echo err >&2; exit 3", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (ferry_spawn_capture (argv, NULL, "hello", &out, &err, &status, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "hello");
  g_assert_cmpstr (err, ==, "err\n");
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 3);
}

static void
test_check_error (void)
{
  const char *argv[] = { "sh", "-c", "echo first >&2; echo 'the reason' >&2; exit 4", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_spawn_check (argv, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_CHILD);
  g_assert_nonnull (strstr (error->message, "exit 4"));
  g_assert_nonnull (strstr (error->message, "the reason"));
}

static void
test_missing (void)
{
  const char *argv[] = { "ferry-no-such-program", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_spawn_check (argv, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "ferry-no-such-program is not installed (not found on PATH)");
}

static void
test_env (void)
{
  const char *argv[] = { "sh", "-c", "printf %s \"$FERRY_X\"", NULL };
  const char *env[] = { "FERRY_X=a=b", NULL };
  g_autofree char *out = NULL;

  g_assert_true (ferry_spawn_check (argv, env, NULL, &out, NULL, NULL));
  g_assert_cmpstr (out, ==, "a=b");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/spawn/display", test_display);
  g_test_add_func ("/spawn/capture", test_capture);
  g_test_add_func ("/spawn/check-error", test_check_error);
  g_test_add_func ("/spawn/missing", test_missing);
  g_test_add_func ("/spawn/env", test_env);
  return g_test_run ();
}
