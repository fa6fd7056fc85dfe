/* The store's manifest check: what a hostile or broken manifest must never get past, before any
 * download or write (the integration test, test-store.sh, drives the same cases through ferry). */
#include "core/store.h"
#include "test-init.h"

#define SHA "9a271f2a916b0b6ee6cecb2426f0b3206ef074578be55d9bc94f6f3fe3ab86aa"

static void
expect (const char *entries, gboolean good, const char *why)
{
  g_autofree char *text = g_strdup_printf ("{\"ferry_store_manifest\": 1, \"entries\": %s}", entries);
  g_autoptr(json_t) m = json_loads (text, 0, NULL);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_assert_nonnull (m);
  ok = ferry_store_manifest_check (m, &error);
  if (good)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, why));
    }
  g_assert_cmpint (ok, ==, good);
}

static void
test_good (void)
{
  expect ("[{\"path\": \"ref/a\", \"type\": \"file\", \"mode\": 420, \"mtime_ns\": 1, \"size\": 8,"
          " \"sha256\": \"" SHA "\"},"
          " {\"path\": \"ref/b\", \"type\": \"file\", \"size\": 8, \"sha256\": \"" SHA "\", \"link\": \"ref/a\"},"
          " {\"path\": \"ref/l\", \"type\": \"symlink\", \"target\": \"a\"},"
          " {\"path\": \"ref/d\", \"type\": \"dir\"}]",
          TRUE, NULL);
}

static void
test_hostile (void)
{
  expect ("[{\"path\": \"../x\", \"type\": \"file\", \"size\": 1, \"sha256\": \"" SHA "\"}]", FALSE,
          "leaves the workflow directory");
  expect ("[{\"path\": \"a/../../x\", \"type\": \"dir\"}]", FALSE, "leaves the workflow directory");
  expect ("[{\"path\": \"/etc/passwd\", \"type\": \"file\", \"size\": 1, \"sha256\": \"" SHA "\"}]",
          FALSE, "leaves the workflow directory");
  expect ("[{\"path\": \"\", \"type\": \"dir\"}]", FALSE, "leaves the workflow directory");
  expect ("[{\"path\": \"l\", \"type\": \"symlink\", \"target\": \"../..\"}]", FALSE,
          "a link leading out");
  expect ("[{\"path\": \"l\", \"type\": \"symlink\", \"target\": \"/etc\"}]", FALSE,
          "a link leading out");
  expect ("[{\"path\": \"l\", \"type\": \"symlink\", \"target\": \"d\"},"
          " {\"path\": \"l/f\", \"type\": \"file\", \"size\": 1, \"sha256\": \"" SHA "\"}]",
          FALSE, "through a symlink");
  expect ("[{\"path\": \"b\", \"type\": \"file\", \"size\": 1, \"sha256\": \"" SHA "\", \"link\": \"/etc/shadow\"}]",
          FALSE, "hard link to no earlier entry");
  expect ("[{\"path\": \"a\", \"type\": \"file\", \"size\": 1, \"sha256\": \"../../x\"}]", FALSE,
          "no valid sha256");
  expect ("[{\"path\": \"a\", \"type\": \"file\", \"size\": 1, \"sha256\": \"" SHA "\", \"pack\": \"x/y\"}]",
          FALSE, "invalid pack");
  expect ("[{\"path\": \"a\", \"type\": \"fifo\"}]", FALSE, "unknown type");
}

static void
test_schema (void)
{
  g_autoptr(json_t) m = json_loads ("{\"ferry_store_manifest\": 2, \"entries\": []}", 0, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_store_manifest_check (m, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/store/manifest-good", test_good);
  g_test_add_func ("/store/manifest-hostile", test_hostile);
  g_test_add_func ("/store/manifest-schema", test_schema);
  return g_test_run ();
}
