/* Unit tests for state: atomic save and load, validation, a corrupt file left untouched, the lock. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "core/state.h"
#include "test-init.h"

/* A fresh dir inside the test's isolated XDG dirs, which GLib removes afterwards. */
static char *
tmpdir (void)
{
  char *dir = g_build_filename (g_get_user_data_dir (), "ferry-state-XXXXXX", NULL);

  g_mkdir_with_parents (g_get_user_data_dir (), 0700);
  return g_mkdtemp (dir);
}

static void
test_roundtrip (void)
{
  g_autofree char *base = tmpdir ();
  g_autofree char *dir = g_build_filename (base, "st", NULL);
  g_autoptr(FerryState) a = ferry_state_new (dir, "demo");
  g_autoptr(FerryState) b = ferry_state_new (dir, "demo");
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *ignore = NULL;
  struct stat st;

  g_assert_true (ferry_state_open (a, TRUE, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_autofree char *ignore_path = g_build_filename (dir, ".gitignore", NULL);
  g_assert_true (g_file_get_contents (ignore_path, &ignore, NULL, NULL));
  g_assert_cmpstr (ignore, ==, "*\n");

  g_assert_true (ferry_state_record (a, FERRY_KIND_VPC, json_pack ("{s:s, s:b}", "id", "vpc-1", "created", 0), &error));
  g_assert_true (ferry_state_update (a, FERRY_KIND_VPC, "subnet", json_string ("subnet-9"), &error));
  g_assert_no_error (error);

  g_assert_true (ferry_state_open (b, FALSE, FALSE, &error));
  id = ferry_state_dup_resource_string (b, FERRY_KIND_VPC, "id");
  g_assert_cmpstr (id, ==, "vpc-1");
  g_free (id);
  id = ferry_state_dup_resource_string (b, FERRY_KIND_VPC, "subnet");
  g_assert_cmpstr (id, ==, "subnet-9");
  g_assert_true (ferry_state_forget (a, FERRY_KIND_VPC, &error));
  g_assert_false (ferry_state_has_resource (a, FERRY_KIND_VPC));
}

static void
test_corrupt_untouched (void)
{
  g_autofree char *dir = tmpdir ();
  g_autofree char *path = g_build_filename (dir, "state.json", NULL);
  const char *bad[] = { "{not json", "[]", "{\"schema\":\"other\"}",
                        "{\"schema\":\"ferry-state\",\"version\":99,\"name\":\"ferry\",\"settings\":{},\"resources\":{}}",
                        "{\"schema\":\"ferry-state\",\"version\":1,\"name\":\"ferry\",\"settings\":{},\"resources\":{\"vpc\":{}}}" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(FerryState) s = ferry_state_new (dir, "ferry");
      g_autoptr(GError) error = NULL;
      g_autofree char *after = NULL;

      g_assert_true (g_file_set_contents (path, bad[i], -1, NULL));
      g_assert_false (ferry_state_open (s, TRUE, TRUE, &error));
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, "state.json"));
      g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
      g_assert_cmpstr (after, ==, bad[i]);
    }
}

static void
test_other_name (void)
{
  g_autofree char *dir = tmpdir ();
  g_autoptr(FerryState) a = ferry_state_new (dir, "one");
  g_autoptr(FerryState) b = ferry_state_new (dir, "two");
  g_autoptr(GError) error = NULL;

  g_assert_true (ferry_state_open (a, TRUE, FALSE, &error));
  g_assert_true (ferry_state_save (a, &error));
  g_assert_false (ferry_state_open (b, TRUE, FALSE, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "deployment \"one\""));
}

/* A change through a state opened without the lock (run, push, pull) is applied to what is on disk
 * under the lock, so it never undoes what a locked command (teardown) wrote meanwhile; while that
 * command holds the lock, the change fails and says why. */
static void
test_unlocked_change (void)
{
  g_autofree char *dir = tmpdir ();
  g_autoptr(FerryState) runner = ferry_state_new (dir, "ferry");
  g_autoptr(FerryState) reader = ferry_state_new (dir, "ferry");
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(FerryState) boot = ferry_state_new (dir, "ferry");
    g_assert_true (ferry_state_open (boot, TRUE, TRUE, &error));
    g_assert_true (ferry_state_record (boot, FERRY_KIND_INSTANCE, json_pack ("{s:s}", "id", "i-1"), &error));
    g_assert_true (ferry_state_record (boot, FERRY_KIND_VPC, json_pack ("{s:s}", "id", "vpc-1"), &error));
  }
  g_assert_true (ferry_state_open (runner, FALSE, FALSE, &error));

  /* A teardown (locked) forgets the VPC; the runner, which read it earlier, then records a change. */
  {
    g_autoptr(FerryState) td = ferry_state_new (dir, "ferry");
    g_assert_true (ferry_state_open (td, FALSE, TRUE, &error));
    g_assert_true (ferry_state_forget (td, FERRY_KIND_VPC, &error));

    /* While the teardown holds the lock, the runner's change waits, then fails, changing nothing. */
    g_assert_false (ferry_state_update (runner, FERRY_KIND_INSTANCE, "state", json_string ("stopped"), &error));
    g_assert_nonnull (strstr (error->message, "another ferry"));
    g_clear_error (&error);
  }
  g_assert_true (ferry_state_update (runner, FERRY_KIND_INSTANCE, "state", json_string ("stopped"), &error));
  g_assert_no_error (error);

  g_assert_true (ferry_state_open (reader, FALSE, FALSE, &error));
  g_assert_false (ferry_state_has_resource (reader, FERRY_KIND_VPC));
  g_autofree char *st = ferry_state_dup_resource_string (reader, FERRY_KIND_INSTANCE, "state");
  g_assert_cmpstr (st, ==, "stopped");
}

static void
test_lock (void)
{
  g_autofree char *dir = tmpdir ();
  g_autoptr(FerryState) a = ferry_state_new (dir, "ferry");
  g_autoptr(FerryState) b = ferry_state_new (dir, "ferry");
  g_autoptr(GError) error = NULL;

  g_assert_true (ferry_state_open (a, TRUE, TRUE, &error));
  g_assert_false (ferry_state_open (b, TRUE, TRUE, &error));
  g_assert_nonnull (strstr (error->message, "another ferry"));
  g_clear_error (&error);

  /* Once a lets go (a recovered run, after its launch), b gets the lock, and a's next change waits
   * for it, then fails saying why, changing nothing. */
  ferry_state_unlock (a);
  g_assert_true (ferry_state_open (b, TRUE, TRUE, &error));
  g_assert_false (ferry_state_update (a, FERRY_KIND_INSTANCE, "state", json_string ("stopped"), &error));
  g_assert_nonnull (strstr (error->message, "another ferry"));
}

static void
test_umask (void)
{
  g_autofree char *base = tmpdir ();
  g_autofree char *dir = g_build_filename (base, "a", "b", NULL);
  g_autoptr(FerryState) s = ferry_state_new (dir, "ferry");
  mode_t old = umask (0);
  struct stat st;

  g_assert_true (ferry_state_open (s, TRUE, FALSE, NULL));
  g_assert_true (ferry_state_save (s, NULL));
  umask (old);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_autofree char *state_path = g_build_filename (dir, "state.json", NULL);
  g_assert_cmpint (stat (state_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 077, ==, 0);
}

/* The child of /state/killed-mid-save: saves the state again and again, a counter one higher each
 * time, next to a large padding (so that each save takes many writes and an fsync), until killed. */
static void G_GNUC_NORETURN
save_forever (const char *dir, const char *padding)
{
  g_autoptr(FerryState) s = ferry_state_new (dir, "demo");
  json_int_t n;

  if (!ferry_state_open (s, TRUE, TRUE, NULL))
    _exit (2);
  n = json_integer_value (ferry_state_dup_setting (s, "counter"));
  if (!ferry_state_set_setting (s, "padding", json_string (padding), NULL))
    _exit (3);
  for (;;)
    if (!ferry_state_set_setting (s, "counter", json_integer (++n), NULL))
      _exit (4);
}

/* SIGKILL a process in the middle of its saves, many times: every time, the state on disk is whole
 * (parses, validates, the padding intact) and no older than the last one seen. The temporary a kill
 * left behind shows that the kills did land mid-save. */
static void
test_killed_mid_save (void)
{
  g_autofree char *base = tmpdir ();
  g_autofree char *dir = g_build_filename (base, "st", NULL);
  g_autofree char *path = g_build_filename (dir, "state.json", NULL);
  g_autofree char *padding = NULL;
  json_int_t last = -1;
  guint mid_save = 0;

  padding = g_malloc (128 * 1024 + 1);
  memset (padding, 'x', 128 * 1024);
  padding[128 * 1024] = '\0';
  for (guint round = 0; round < 60; round++)
    {
      g_autofree char *text = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(json_t) root = NULL;
      g_autoptr(GDir) d = NULL;
      const char *name;
      gsize len = 0;
      int status = 0;
      pid_t pid = fork ();

      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        save_forever (dir, padding);
      g_usleep (g_test_rand_int_range (5, 120) * 1000);
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

      if (!g_file_get_contents (path, &text, &len, NULL))
        {
          /* Killed before its first save ever finished: no state yet, never half a one. */
          g_assert_cmpint (last, ==, -1);
          continue;
        }
      root = ferry_state_parse (text, len, &error);
      g_assert_no_error (error);
      g_assert_true (ferry_state_validate (root, &error));
      g_assert_no_error (error);
      if (json_object_get (json_object_get (root, "settings"), "counter") != NULL)
        {
          json_int_t n = json_integer_value (json_object_get (json_object_get (root, "settings"), "counter"));
          g_assert_cmpstr (json_string_value (json_object_get (json_object_get (root, "settings"), "padding")), ==, padding);
          g_assert_cmpint (n, >=, last);
          last = n;
        }

      d = g_dir_open (dir, 0, &error);
      g_assert_no_error (error);
      while ((name = g_dir_read_name (d)) != NULL)
        if (g_str_has_prefix (name, "state.json."))
          {
            g_autofree char *tmp = g_build_filename (dir, name, NULL);
            mid_save++;
            g_assert_cmpint (g_remove (tmp), ==, 0);
          }
    }
  g_test_message ("%u of 60 kills landed mid-save; the last counter saved was %" JSON_INTEGER_FORMAT,
                  mid_save, last);
  g_assert_cmpint (last, >, 0);
  g_assert_cmpuint (mid_save, >, 0);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/state/roundtrip", test_roundtrip);
  g_test_add_func ("/state/corrupt-untouched", test_corrupt_untouched);
  g_test_add_func ("/state/other-name", test_other_name);
  g_test_add_func ("/state/lock", test_lock);
  g_test_add_func ("/state/unlocked-change", test_unlocked_change);
  g_test_add_func ("/state/umask", test_umask);
  g_test_add_func ("/state/killed-mid-save", test_killed_mid_save);
  return g_test_run ();
}
