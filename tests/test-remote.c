/* Unit tests for core/remote: the quoted remote command, the ssh argv, markers and secure extraction. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/remote.h"
#include "core/spawn.h"
#include "test-init.h"

static const char *const hostile[] = {
  "plain", "with space", "it's", "\"double\"", "$(touch pwned)", "`touch pwned`", "new\nline",
  "ünïcödé", "semi;colon && echo", "*", "~/tilde", "-n", "", "back\\slash", "tab\there", NULL,
};

/* The quoted command, run by a real POSIX shell, gives back every word unchanged. */
static void
test_quote_roundtrip (void)
{
  g_autoptr(GString) cmd = g_string_new ("printf '%s\\0'");
  g_autofree char *out = NULL;
  g_autofree char *quoted = ferry_remote_quote_argv (hostile);
  g_auto(GStrv) parsed = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "sh", "-c", NULL, NULL };
  const char *p;
  guint i = 0;

  g_assert_true (g_shell_parse_argv (quoted, NULL, &parsed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (parsed), ==, g_strv_length ((char **) hostile));
  for (i = 0; hostile[i] != NULL; i++)
    g_assert_cmpstr (parsed[i], ==, hostile[i]);
  for (i = 0; hostile[i] != NULL; i++)
    ferry_remote_cmd_word (cmd, hostile[i]);
  argv[2] = cmd->str;
  g_assert_true (ferry_spawn_check (argv, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  p = out;
  for (i = 0; hostile[i] != NULL; i++)
    {
      g_assert_cmpstr (p, ==, hostile[i]);
      p += strlen (p) + 1;
    }
  g_assert_false (g_file_test ("pwned", G_FILE_TEST_EXISTS));
}

/* A login shell's stdout for the script ferry would send, every byte (NULs included). */
static GBytes *
run_login_shell (const char *shell, const char *script)
{
  g_autofree char *cmd = ferry_remote_login_command (script);
  const char *argv[] = { shell, "-c", cmd, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GBytes) err = NULL;
  GBytes *out = NULL;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate (proc, NULL, NULL, &out, &err, &error));
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (proc) != 0)
    g_test_message ("%s: %.*s", shell, (int) g_bytes_get_size (err),
                    (const char *) g_bytes_get_data (err, NULL));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  return out;
}

/* out holds exactly the bytes of want. */
static void
assert_output (const char *shell, GBytes *out, const GString *want)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (out, &len);

  if (len != want->len || memcmp (data, want->str, len) != 0)
    g_error ("%s gave %" G_GSIZE_FORMAT " bytes, not the %" G_GSIZE_FORMAT " of the words sent: %s",
             shell, len, want->len, g_strescape (data ? data : "", NULL));
}

/* One word for the script, and what `printf '%s\\0'` prints for it. */
static void
add_word (GString *script, GString *want, const char *word)
{
  ferry_remote_cmd_word (script, word);
  g_string_append_len (want, word, strlen (word) + 1);
}

/* Whatever the login shell (sshd runs the command through it), /bin/sh gets the script unchanged:
 * hostile words, `!`, newlines, backslashes, 8-bit bytes, and a long script. Each shell's output is
 * compared byte for byte with the words the script was built from. Every shell must be installed
 * (scripts/deps installs them): a missing one fails, never passes unseen. */
static void
test_login_shells (void)
{
  static const char *const shells[] = { "sh", "dash", "bash", "zsh", "tcsh", "csh", "fish", NULL };
  const char *plain_word = "a b$(x)`y`'z'\"";
  g_autoptr(GString) script = g_string_new ("printf '%s\\0'");
  g_autoptr(GString) plain = g_string_new ("printf '%s|'");
  g_autoptr(GString) longer = g_string_new ("printf '%s|'");
  g_autoptr(GString) script_want = g_string_new (NULL);
  g_autoptr(GString) plain_want = g_string_new (NULL);
  g_autoptr(GString) longer_want = g_string_new (NULL);

  for (guint i = 0; hostile[i] != NULL; i++)
    add_word (script, script_want, hostile[i]);
  add_word (script, script_want, "bang!bang !$ !!");
  ferry_remote_cmd_word (plain, plain_word);
  g_string_append_printf (plain_want, "%s|", plain_word);
  for (guint i = 0; i < 3000; i++)
    {
      ferry_remote_cmd_word (longer, "word!\n");
      g_string_append (longer_want, "word!\n|");
    }
  for (guint s = 0; shells[s] != NULL; s++)
    {
      g_autofree char *path = g_find_program_in_path (shells[s]);
      const char *scripts[] = { script->str, plain->str, longer->str };
      const GString *wants[] = { script_want, plain_want, longer_want };

      if (path == NULL)
        g_error ("%s is not installed: ./scripts/deps installs every shell this test runs", shells[s]);
      for (guint k = 0; k < G_N_ELEMENTS (scripts); k++)
        {
          g_autoptr(GBytes) out = run_login_shell (path, scripts[k]);
          assert_output (shells[s], out, wants[k]);
        }
    }
  g_assert_false (g_file_test ("pwned", G_FILE_TEST_EXISTS));
}

/* A path keeps `~/` for the remote shell, and only that is left unquoted. */
static void
test_quote_path (void)
{
  g_autoptr(GString) cmd = g_string_new (NULL);

  ferry_remote_cmd_path (cmd, "~/ferry/x $(y)");
  g_assert_cmpstr (cmd->str, ==, "~/'ferry/x $(y)'");
  g_string_truncate (cmd, 0);
  ferry_remote_cmd_path (cmd, "/abs/it's");
  g_assert_cmpstr (cmd->str, ==, "'/abs/it'\\''s'");
  g_string_truncate (cmd, 0);
  ferry_remote_cmd_path (cmd, "~user/x");
  g_assert_cmpstr (cmd->str, ==, "'~user/x'");
}

static gboolean
argv_has (GStrv argv, const char *a, const char *b)
{
  for (guint i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
    if (g_str_equal (argv[i], a) && g_str_equal (argv[i + 1], b))
      return TRUE;
  return FALSE;
}

static void
test_ssh_argv (void)
{
  const char *const opts[] = { "Port=2222", "HostName=127.0.0.1", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryRemote) r = ferry_remote_new_host ("alice@login.hpc.example", "bob", opts, "state dir",
                                                     &error);
  g_auto(GStrv) argv = NULL;
  g_autofree char *kh = NULL;
  guint n;

  g_assert_no_error (error);
  g_assert_cmpstr (r->user, ==, "alice");
  g_assert_cmpuint (strlen (r->control_path), <, 108);
  g_assert_true (g_str_has_prefix (r->control_path, "/tmp/ferry-"));
  argv = ferry_remote_ssh_argv (r, FALSE, "echo hi");
  n = g_strv_length (argv);
  g_assert_cmpstr (argv[0], ==, "ssh");
  g_assert_true (argv_has (argv, "-o", "BatchMode=yes"));
  g_assert_true (argv_has (argv, "-o", "StrictHostKeyChecking=accept-new"));
  g_assert_true (argv_has (argv, "-o", "ControlMaster=auto"));
  g_assert_true (argv_has (argv, "-o", "ControlPersist=60"));
  kh = g_strdup_printf ("UserKnownHostsFile=%s", "state dir/known_hosts");
  g_assert_true (argv_has (argv, "-o", kh));
  g_assert_true (argv_has (argv, "-o", "Port=2222"));
  g_assert_true (argv_has (argv, "-l", "alice"));
  g_assert_cmpstr (argv[n - 2], ==, "login.hpc.example");
  g_assert_cmpstr (argv[n - 1], ==, "exec /bin/sh -c 'echo hi'");
  g_assert_false (argv_has (argv, "-i", r->identity ? r->identity : ""));

  g_clear_pointer (&r, ferry_remote_free);
  r = ferry_remote_new_host ("-oProxyCommand=x", NULL, NULL, ".", &error);
  g_assert_null (r);
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
}

/* The instance's key, user and known_hosts; a new instance id drops the old host keys. */
static void
test_from_state (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "st", NULL);
  g_autoptr(FerryState) st = ferry_state_new (dir, "demo");
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryRemote) r = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *kh = NULL;
  json_t *inst;

  g_assert_true (ferry_state_open (st, TRUE, FALSE, &error));
  g_assert_no_error (error);
  r = ferry_remote_new_from_state (st, NULL, NULL, &error);
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
  g_clear_error (&error);

  pem = ferry_state_pem_path (st);
  g_assert_true (g_file_set_contents (pem, "k", -1, NULL));
  inst = json_pack ("{s:s, s:b, s:s, s:s}", "id", "i-1", "created", 1, "public_dns", "",
                    "public_ip", "203.0.113.9");
  g_assert_true (ferry_state_record (st, "instance", inst, &error));
  r = ferry_remote_new_from_state (st, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->host, ==, "203.0.113.9");
  g_assert_cmpstr (r->user, ==, "ec2-user");
  g_assert_cmpstr (r->identity, ==, pem);
  kh = g_strdup (r->known_hosts);
  g_assert_true (g_file_set_contents (kh, "203.0.113.9 ssh-ed25519 AAAA\n", -1, NULL));
  g_clear_pointer (&r, ferry_remote_free);

  /* The same instance keeps its host key. */
  r = ferry_remote_new_from_state (st, "admin", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->user, ==, "admin");
  g_assert_true (g_file_test (kh, G_FILE_TEST_EXISTS));
  g_clear_pointer (&r, ferry_remote_free);

  /* A new instance gets a fresh known_hosts. */
  inst = json_pack ("{s:s, s:b, s:s}", "id", "i-2", "created", 1, "public_dns", "ec2-x.example");
  g_assert_true (ferry_state_record (st, "instance", inst, &error));
  r = ferry_remote_new_from_state (st, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->host, ==, "ec2-x.example");
  g_assert_false (g_file_test (kh, G_FILE_TEST_EXISTS));
}

static void
test_incomplete_marker (void)
{
  g_autofree char *m = ferry_remote_incomplete_marker ("results/a.txt");
  g_autofree char *long_path = g_strnfill (300, 'x');
  g_autofree char *lm = ferry_remote_incomplete_marker (long_path);

  /* urlsafe base64, as snakemake's persistence names it */
  g_assert_cmpstr (m, ==, "cmVzdWx0cy9hLnR4dA==");
  g_assert_true (lm[0] == '@');
  g_assert_nonnull (strchr (lm, '/'));
  g_assert_cmpuint (strchr (lm, '/') - lm, ==, 255);
}

/* Writes a tar with the given entries (path, symlink target or NULL) to a temp file; returns its fd. */
static int
crafted (const char *const *entries)
{
  g_autofree char *path = g_build_filename (g_get_user_cache_dir (), "crafted.tar", NULL);
  g_autoptr(FerryArchiveWrite) a = archive_write_new ();
  int fd;

  g_mkdir_with_parents (g_get_user_cache_dir (), 0700);
  archive_write_set_format_pax_restricted (a);
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);
  for (guint i = 0; entries[i] != NULL; i += 2)
    {
      g_autoptr(FerryArchiveEntry) e = archive_entry_new ();
      archive_entry_set_pathname (e, entries[i]);
      archive_entry_set_perm (e, 0644);
      if (*entries[i + 1] != '\0')
        {
          archive_entry_set_filetype (e, AE_IFLNK);
          archive_entry_set_symlink (e, entries[i + 1]);
          archive_write_header (a, e);
        }
      else
        {
          archive_entry_set_filetype (e, AE_IFREG);
          archive_entry_set_size (e, 2);
          archive_write_header (a, e);
          archive_write_data (a, "x\n", 2);
        }
    }
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  fd = open (path, O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static void
test_extract_secure (void)
{
  g_autofree char *work = g_build_filename (g_get_user_data_dir (), "work", "sub", NULL);
  const char *const allowed[] = { "results", NULL };
  const char *const good[] = { "results/a.txt", "", "results/d/b.txt", "", NULL };
  const char *const dotdot[] = { "results/../../escape", "", NULL };
  const char *const absolute[] = { "/tmp/ferry-escape-absolute", "", NULL };
  const char *const link_out[] = { "results/l", "/tmp", "results/l/escape", "", NULL };
  const char *const other[] = { "Snakefile", "", NULL };
  const char *const *bad[] = { dotdot, absolute, link_out, other };
  FerryPullStats stats = { 0 };
  g_autoptr(GError) error = NULL;
  int fd;

  g_mkdir_with_parents (work, 0700);
  g_assert_cmpint (chdir (work), ==, 0);
  fd = crafted (good);
  g_assert_true (ferry_remote_extract_fd (fd, allowed, &stats, &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpuint (stats.entries, ==, 2);
  g_assert_true (g_file_test ("results/d/b.txt", G_FILE_TEST_IS_REGULAR));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      fd = crafted (bad[i]);
      g_assert_false (ferry_remote_extract_fd (fd, allowed, &stats, &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
      g_clear_error (&error);
      close (fd);
    }
  g_assert_false (g_file_test ("../escape", G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test ("/tmp/ferry-escape-absolute", G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test ("/tmp/escape", G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test ("Snakefile", G_FILE_TEST_EXISTS));
}

/* Every spelling of "conda environments" that snakemake 7.21 to 9 takes counts, and nothing else. */
static void
test_use_conda_spellings (void)
{
  static const struct
  {
    const char *args; /* space-separated */
    gboolean conda;
  } cases[] = {
    { "--use-conda", TRUE },
    { "--sdm conda", TRUE },
    { "--sdm=conda", TRUE },
    { "--software-deployment-method conda", TRUE },
    { "--software-deployment-method=conda", TRUE },
    { "--deployment-method conda", TRUE },
    { "--deployment conda", TRUE },
    { "--sdm conda apptainer", TRUE },
    { "--sdm apptainer conda --cores 2", TRUE },
    { "--keep-going --sdm env-modules conda", TRUE },
    { "--sdm apptainer", FALSE },
    { "--sdm=apptainer", FALSE },
    { "--sdm apptainer --config x=conda", FALSE },
    { "--conda-prefix /tmp/c", FALSE },
    { "--conda-frontend conda", FALSE },
    { "--sdmx conda", FALSE },
    { "--sdm=condax", FALSE },
    { "conda", FALSE },
    { "", FALSE },
  };

  g_assert_false (ferry_remote_snakemake_args_use_conda (NULL));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(GStrv) args = g_strsplit (cases[i].args, " ", -1);

      if (*cases[i].args == '\0')
        g_clear_pointer (&args[0], g_free);
      if (ferry_remote_snakemake_args_use_conda ((const char *const *) args) != cases[i].conda)
        g_error ("\"%s\": expected %s", cases[i].args, cases[i].conda ? "conda" : "no conda");
    }
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/remote/quote-roundtrip", test_quote_roundtrip);
  g_test_add_func ("/remote/quote-path", test_quote_path);
  g_test_add_func ("/remote/login-shells", test_login_shells);
  g_test_add_func ("/remote/ssh-argv", test_ssh_argv);
  g_test_add_func ("/remote/from-state", test_from_state);
  g_test_add_func ("/remote/incomplete-marker", test_incomplete_marker);
  g_test_add_func ("/remote/extract-secure", test_extract_secure);
  g_test_add_func ("/remote/use-conda-spellings", test_use_conda_spellings);
  return g_test_run ();
}
