/* The remote end over ssh: argv, the one quoted remote command, and the push / run / pull streams. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "archive.h"
#include "aws.h"
#include "pool.h"
#include "remote.h"
#include "remote-private.h"
#include "spawn.h"
#include "store.h"

#define MANIFEST ".ferry-manifest"
#define PULL_LIST ".ferry-pull-list"
#define READY_MARKER "/var/lib/ferry/ready"

static gboolean early_finish (FerryRemote *remote, GError **error);

void
ferry_remote_free (FerryRemote *remote)
{
  if (remote == NULL)
    return;
  /* An error path that returns early must not leave a ControlPersist master behind. */
  if (remote->connected)
    ferry_remote_close (remote);
  early_finish (remote, NULL);
  g_mutex_clear (&remote->warmup_lock);
  g_clear_pointer (&remote->s3_store, ferry_store_free);
  g_clear_pointer (&remote->early_probe, g_bytes_unref);
  g_free (remote->early_dir);
  g_free (remote->host);
  g_free (remote->s3_bucket);
  g_free (remote->s3_state_dir);
  g_free (remote->s3_deployment);
  g_free (remote->user);
  g_free (remote->identity);
  g_free (remote->known_hosts);
  g_free (remote->control_path);
  g_free (remote->compression);
  g_strfreev (remote->options);
  g_free (remote);
}

/* A socket path short enough for sun_path (108 bytes): /tmp/ferry-<uid>/<16 hex digits>, in a 0700
 * dir that must be ours. */
static char *
control_path_for (const char *state_dir, const char *user, const char *host,
                  const char *const *options, GError **error)
{
  g_autofree char *dir = g_strdup_printf ("/tmp/ferry-%u", (guint) getuid ());
  g_autofree char *abs = g_canonicalize_filename (state_dir, NULL);
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  struct stat st;
  char *path;

  if (mkdir (dir, 0700) != 0 && errno != EEXIST)
    return (ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", dir, g_strerror (errno)),
            NULL);
  if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode) || st.st_uid != getuid ()
      || (st.st_mode & 077) != 0)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "%s is not a private directory of this user; remove it and retry", dir),
            NULL);
  g_checksum_update (sum, (const guchar *) abs, -1);
  g_checksum_update (sum, (const guchar *) "\n", 1);
  g_checksum_update (sum, (const guchar *) (user ? user : ""), -1);
  g_checksum_update (sum, (const guchar *) "@", 1);
  g_checksum_update (sum, (const guchar *) host, -1);
  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    {
      g_checksum_update (sum, (const guchar *) "\n", 1);
      g_checksum_update (sum, (const guchar *) options[i], -1);
    }
  /* A master per ferry process: each one ends its own (ssh -O exit), which would cut the sessions of
   * another ferry sharing it (a cancel from a second terminal while run follows the same run). */
  g_autofree char *pid = g_strdup_printf ("\n%ld", (long) getpid ());
  g_checksum_update (sum, (const guchar *) pid, -1);
  path = g_strdup_printf ("%s/%.16s", dir, g_checksum_get_string (sum));
  g_assert (strlen (path) < 108);
  return path;
}

static FerryRemote *
remote_new (const char *host, const char *user, const char *const *options, const char *state_dir,
            GError **error)
{
  g_autoptr(FerryRemote) remote = g_new0 (FerryRemote, 1);

  g_mutex_init (&remote->warmup_lock);
  if (host == NULL || *host == '\0' || host[0] == '-' || strpbrk (host, " \t\n/") != NULL)
    return (ferry_throw (error, FERRY_ERROR_USAGE, "invalid host \"%s\"", host ? host : ""), NULL);
  if (user != NULL && (*user == '\0' || user[0] == '-' || strpbrk (user, " \t\n@") != NULL))
    return (ferry_throw (error, FERRY_ERROR_USAGE, "invalid ssh user \"%s\"", user), NULL);
  remote->host = g_strdup (host);
  remote->user = g_strdup (user);
  remote->options = g_strdupv ((char **) options);
  remote->known_hosts = g_build_filename (state_dir, "known_hosts", NULL);
  remote->control_path = control_path_for (state_dir, user, host, options, error);
  if (remote->control_path == NULL)
    return NULL;
  return g_steal_pointer (&remote);
}

FerryRemote *
ferry_remote_new_host (const char *spec, const char *user, const char *const *options,
                       const char *state_dir, GError **error)
{
  const char *at = strrchr (spec, '@');
  g_autofree char *spec_user = NULL;

  if (at != NULL)
    {
      spec_user = g_strndup (spec, at - spec);
      spec = at + 1;
    }
  return remote_new (spec, spec_user ? spec_user : user, options, state_dir, error);
}

/* known_hosts belongs to one instance: a new instance (a new id) gets a fresh file, so its new host
 * key is accepted once rather than refused as a changed key. */
static gboolean
known_hosts_for_instance (const char *known_hosts, const char *instance_id, GError **error)
{
  g_autofree char *id_path = g_strconcat (known_hosts, ".instance", NULL);
  g_autofree char *old = NULL;

  if (g_file_get_contents (id_path, &old, NULL, NULL) && g_str_equal (g_strstrip (old), instance_id))
    return TRUE;
  if (unlink (known_hosts) != 0 && errno != ENOENT)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot remove %s: %s", known_hosts,
                        g_strerror (errno));
  return g_file_set_contents_full (id_path, instance_id, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

FerryRemote *
ferry_remote_new_from_state (FerryState *state, const char *user, const char *const *options,
                             GError **error)
{
  g_autofree char *id = ferry_state_dup_resource_string (state, "instance", "id");
  g_autofree char *dns = ferry_state_dup_resource_string (state, "instance", "public_dns");
  g_autofree char *ip = ferry_state_dup_resource_string (state, "instance", "public_ip");
  g_autoptr(FerryRemote) remote = NULL;
  const char *host;

  if (id == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                         "no instance in %s; run ferry bootstrap, or give --host [USER@]HOST",
                         ferry_state_get_dir (state)),
            NULL);
  host = (dns != NULL && *dns != '\0') ? dns : ip;
  if (host == NULL || *host == '\0')
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                         "instance %s has no public address (is it running? see ferry status)", id),
            NULL);
  remote = remote_new (host, user ? user : "ec2-user", options, ferry_state_get_dir (state), error);
  if (remote == NULL)
    return NULL;
  remote->identity = ferry_state_pem_path (state);
  remote->ec2 = TRUE;
  if (!g_file_test (remote->identity, G_FILE_TEST_EXISTS))
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "the key %s is missing; run ferry keypair",
                         remote->identity),
            NULL);
  if (!known_hosts_for_instance (remote->known_hosts, id, error))
    return NULL;
  return g_steal_pointer (&remote);
}

char *
ferry_remote_default_dir (const char *name)
{
  return g_strdup_printf ("~/ferry/%s", name);
}

static void
add_o (GStrvBuilder *b, const char *key, const char *value)
{
  g_autofree char *opt = g_strdup_printf ("%s=%s", key, value);
  g_strv_builder_add_many (b, "-o", opt, NULL);
}

/* sshd runs the command through the user's login shell, which may be tcsh: there `!` is history
 * even inside single quotes and a quoted newline is an error. So the login shell only ever sees
 * `exec /bin/sh -c '...'`, and a script with such characters (or a backslash, which fish reads in
 * single quotes, or 8-bit bytes) reaches sh as printf octal escapes, which every shell passes
 * through untouched. */
char *
ferry_remote_login_command (const char *script)
{
  g_autoptr(GString) s = NULL;
  gboolean plain = TRUE;

  for (const guchar *p = (const guchar *) script; *p; p++)
    if (*p < 0x20 || *p >= 0x7f || *p == '!' || *p == '\\')
      plain = FALSE;
  if (plain)
    {
      g_autofree char *q = g_shell_quote (script);
      return g_strconcat ("exec /bin/sh -c ", q, NULL);
    }
  s = g_string_new ("exec /bin/sh -c 'eval \"$(printf \"");
  for (const guchar *p = (const guchar *) script; *p; p++)
    if (*p >= 0x20 && *p < 0x7f && strchr ("'!\"$`\\%", *p) == NULL)
      g_string_append_c (s, *p);
    else
      g_string_append_printf (s, "\\%03o", *p);
  g_string_append (s, "\")\"'");
  return g_string_free (g_steal_pointer (&s), FALSE);
}

GStrv
ferry_remote_ssh_argv (FerryRemote *remote, gboolean tty, const char *command)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  g_strv_builder_add (b, "ssh");
  g_strv_builder_add (b, tty ? "-t" : "-T");
  if (remote->identity != NULL)
    {
      g_strv_builder_add_many (b, "-i", remote->identity, NULL);
      add_o (b, "IdentitiesOnly", "yes");
    }
  add_o (b, "BatchMode", "yes");
  add_o (b, "ConnectTimeout", "10");
  add_o (b, "ServerAliveInterval", "15");
  add_o (b, "UserKnownHostsFile", remote->known_hosts);
  add_o (b, "StrictHostKeyChecking", "accept-new");
  add_o (b, "ControlMaster", "auto");
  add_o (b, "ControlPath", remote->control_path);
  add_o (b, "ControlPersist", "60");
  add_o (b, "LogLevel", "ERROR");
  for (guint i = 0; remote->options != NULL && remote->options[i] != NULL; i++)
    g_strv_builder_add_many (b, "-o", remote->options[i], NULL);
  if (remote->user != NULL)
    g_strv_builder_add_many (b, "-l", remote->user, NULL);
  g_strv_builder_add (b, "--");
  g_strv_builder_add (b, remote->host);
  if (command != NULL)
    {
      g_autofree char *login = ferry_remote_login_command (command);
      g_strv_builder_add (b, login);
    }
  return g_strv_builder_end (b);
}

void
ferry_remote_cmd_word (GString *cmd, const char *word)
{
  g_autofree char *q = g_shell_quote (word);

  if (cmd->len > 0)
    g_string_append_c (cmd, ' ');
  g_string_append (cmd, q);
}

void
ferry_remote_cmd_path (GString *cmd, const char *path)
{
  if (g_str_equal (path, "~"))
    {
      ferry_remote_cmd_op (cmd, "~");
      return;
    }
  if (g_str_has_prefix (path, "~/") && path[2] != '\0')
    {
      g_autofree char *q = g_shell_quote (path + 2);
      if (cmd->len > 0)
        g_string_append_c (cmd, ' ');
      g_string_append (cmd, "~/");
      g_string_append (cmd, q);
      return;
    }
  ferry_remote_cmd_word (cmd, path);
}

void
ferry_remote_cmd_op (GString *cmd, const char *op)
{
  if (cmd->len > 0)
    g_string_append_c (cmd, ' ');
  g_string_append (cmd, op);
}

char *
ferry_remote_quote_argv (const char *const *argv)
{
  g_autoptr(GString) cmd = g_string_new (NULL);

  for (guint i = 0; argv != NULL && argv[i] != NULL; i++)
    ferry_remote_cmd_word (cmd, argv[i]);
  return g_string_free (g_steal_pointer (&cmd), FALSE);
}

static void
remote_trace (FerryRemote *remote, const char *const *argv)
{
  if (remote->verbose && remote->log != NULL)
    {
      g_autofree char *shown = ferry_argv_display (argv);
      remote->log (shown, remote->log_data);
    }
}

/* Starts ssh with stderr going to an unlinked temp file (read back for the error message), so a
 * chatty child can never block on a full pipe. */
static void
own_process_group (gpointer user_data)
{
  setpgid (0, 0);
}

/* Waits for the early connection, if one was started: a second ssh racing it would make a master
 * (and a handshake) of its own. */
static void
remote_settle (FerryRemote *remote)
{
  g_mutex_lock (&remote->warmup_lock);
  if (remote->warmup != NULL)
    g_subprocess_wait (remote->warmup, NULL, NULL);
  g_clear_object (&remote->warmup);
  g_mutex_unlock (&remote->warmup_lock);
}

void
ferry_remote_connect_early (FerryRemote *remote)
{
  g_auto(GStrv) argv = NULL;

  if (remote->warmup != NULL || g_file_test (remote->control_path, G_FILE_TEST_EXISTS))
    return;
  argv = ferry_remote_ssh_argv (remote, FALSE, "true");
  remote_trace (remote, (const char *const *) argv);
  remote->connected = TRUE;
  remote->warmup = ferry_spawn_start ((const char *const *) argv, NULL,
                                      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                          | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                      NULL);
  if (remote->warmup != NULL)
    g_output_stream_close (g_subprocess_get_stdin_pipe (remote->warmup), NULL, NULL);
}

/* A child whose stderr goes to an unlinked temp file (read back with ferry_remote_read_stderr): a pipe could
 * fill up while ferry is busy writing the child's stdin, and both would wait forever. */
static GSubprocess *
spawn_stderr_to_file (const char *const *argv, const char *const *env, GSubprocessFlags flags,
                      gboolean own_group, int *out_stderr_fd, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "ferry-stderr-XXXXXX", NULL);
  GSubprocess *proc;
  int fd;

  fd = g_mkstemp_full (tmpl, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return (ferry_throw (error, FERRY_ERROR_FAILED, "cannot create a temp file: %s",
                         g_strerror (errno)),
            NULL);
  unlink (tmpl);
  *out_stderr_fd = dup (fd);
  g_subprocess_launcher_take_stderr_fd (launcher, fd);
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1] ? kv[1] : "", TRUE);
    }
  if (own_group)
    g_subprocess_launcher_set_child_setup (launcher, own_process_group, NULL, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &local_error);
  if (proc == NULL)
    {
      close (*out_stderr_fd);
      *out_stderr_fd = -1;
      if (g_error_matches (local_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT))
        return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "%s is not installed (not found on PATH)",
                             argv[0]),
                NULL);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "running %s: ", argv[0]);
      return NULL;
    }
  return proc;
}

GSubprocess *
ferry_remote_spawn_full (FerryRemote *remote, gboolean tty, gboolean own_group, const char *command,
                GSubprocessFlags flags, int *out_stderr_fd, GError **error)
{
  g_auto(GStrv) argv = NULL;

  remote_settle (remote);
  remote->connected = TRUE;
  argv = ferry_remote_ssh_argv (remote, tty, command);
  remote_trace (remote, (const char *const *) argv);
  return spawn_stderr_to_file ((const char *const *) argv, NULL, flags, own_group, out_stderr_fd,
                               error);
}

static GSubprocess *
start_ssh (FerryRemote *remote, gboolean tty, const char *command, GSubprocessFlags flags,
           int *out_stderr_fd, GError **error)
{
  return ferry_remote_spawn_full (remote, tty, FALSE, command, flags, out_stderr_fd, error);
}

char *
ferry_remote_read_stderr (int fd)
{
  g_autoptr(GString) s = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  if (fd < 0)
    return g_strdup ("");
  lseek (fd, 0, SEEK_SET);
  while ((n = read (fd, buf, sizeof buf)) > 0 && s->len < 65536)
    g_string_append_len (s, buf, n);
  close (fd);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The last non-empty line of a child's stderr. */
char *
ferry_remote_last_line (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = g_strv_length (lines); i > 0; i--)
    {
      g_strstrip (lines[i - 1]);
      if (*lines[i - 1] != '\0')
        return g_strdup (lines[i - 1]);
    }
  return g_strdup ("");
}

char *
ferry_remote_display (FerryRemote *remote)
{
  return remote->user ? g_strdup_printf ("%s@%s", remote->user, remote->host)
                      : g_strdup (remote->host);
}

/* ssh exits 255 when the connection itself failed. */
gboolean
ferry_remote_check_connection (FerryRemote *remote, int exit_code, const char *err, GError **error)
{
  g_autofree char *who = NULL;
  g_autofree char *line = NULL;

  if (exit_code != 255)
    return TRUE;
  who = ferry_remote_display (remote);
  line = ferry_remote_last_line (err);
  return ferry_throw (error, FERRY_ERROR_CHILD, "cannot connect to %s over ssh: %s", who,
                      *line ? line : "ssh failed (exit 255)");
}

static void
on_cancel_kill (GCancellable *cancellable, gpointer user_data)
{
  g_subprocess_send_signal (G_SUBPROCESS (user_data), SIGTERM);
}

/* The child gets SIGTERM as soon as the cancellable is cancelled (from whichever thread), so a
 * blocking read or write on its pipes ends; ferry_remote_child_finish reaps it. */
gulong
ferry_remote_kill_on_cancel (GSubprocess *proc, GCancellable *cancellable)
{
  if (cancellable == NULL)
    return 0;
  return g_cancellable_connect (cancellable, G_CALLBACK (on_cancel_kill), proc, NULL);
}

/* Reaps the child. FALSE (cancelled) when the wait was interrupted: the child was stopped. */
gboolean
ferry_remote_child_finish (GSubprocess *proc, GCancellable *cancellable, gulong cancel_id, GError **error)
{
  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);
  if (!g_subprocess_wait (proc, cancellable, NULL))
    {
      g_subprocess_send_signal (proc, SIGTERM);
      g_subprocess_wait (proc, NULL, NULL);
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

int
ferry_remote_exit_code (int wait_status)
{
  return WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : 128 + WTERMSIG (wait_status);
}

gboolean
ferry_remote_capture (FerryRemote *remote, const char *command, GBytes **out_stdout, int *out_exit,
                      GCancellable *cancellable, GError **error)
{
  return ferry_remote_capture_full (remote, command, NULL, out_stdout, out_exit, cancellable, error);
}

gboolean
ferry_remote_exchange (FerryRemote *remote, gboolean own_group, const char *command, GBytes *input,
                       GBytes **out_stdout, int *out_exit, char **out_stderr,
                       GCancellable *cancellable, GError **error)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GBytes) out = NULL;
  int err_fd = -1;

  proc = ferry_remote_spawn_full (remote, FALSE, own_group, command,
                                  G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                      | (input ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0),
                                  &err_fd, error);
  if (proc == NULL)
    return FALSE;
  if (!g_subprocess_communicate (proc, input, cancellable, &out, NULL, error))
    {
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      close (err_fd);
      return FALSE;
    }
  g_subprocess_wait (proc, NULL, NULL);
  *out_stderr = ferry_remote_read_stderr (err_fd);
  *out_exit = ferry_remote_exit_code (g_subprocess_get_status (proc));
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  return TRUE;
}

gboolean
ferry_remote_capture_full (FerryRemote *remote, const char *command, GBytes *input,
                           GBytes **out_stdout, int *out_exit, GCancellable *cancellable,
                           GError **error)
{
  g_autoptr(GBytes) out = NULL;
  g_autofree char *err = NULL;
  int code;

  if (!ferry_remote_exchange (remote, FALSE, command, input, &out, &code, &err, cancellable, error))
    return FALSE;
  if (!ferry_remote_check_connection (remote, code, err, error))
    return FALSE;
  if (out_exit != NULL)
    *out_exit = code;
  else if (code != 0)
    {
      g_autofree char *line = ferry_remote_last_line (err);
      g_autofree char *who = ferry_remote_display (remote);
      return ferry_throw (error, FERRY_ERROR_CHILD, "remote command on %s failed (exit %d)%s%s", who,
                          code, *line ? ": " : "", line);
    }
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  return TRUE;
}

void
ferry_remote_close (FerryRemote *remote)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *opt = g_strdup_printf ("ControlPath=%s", remote->control_path);
  g_auto(GStrv) argv = NULL;

  early_finish (remote, NULL);
  remote_settle (remote);
  if (!g_file_test (remote->control_path, G_FILE_TEST_EXISTS))
    return;
  g_strv_builder_add_many (b, "ssh", "-o", opt, "-O", "exit", "--", remote->host, NULL);
  argv = g_strv_builder_end (b);
  remote_trace (remote, (const char *const *) argv);
  ferry_spawn_capture ((const char *const *) argv, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* --- push --------------------------------------------------------------------------------------- */

typedef struct
{
  guint64 size;
  gint64 mtime;
} ManifestEntry;

/* The manifest: records of "path\0size\0mtime\0" (binary-safe for any file name). */
static GHashTable *
manifest_parse (const char *data, gsize len)
{
  GHashTable *m = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *p = data, *end = data + len;

  while (p < end)
    {
      const char *fields[3];
      int i;
      for (i = 0; i < 3 && p < end; i++)
        {
          const char *nul = memchr (p, '\0', end - p);
          if (nul == NULL)
            return m;
          fields[i] = p;
          p = nul + 1;
        }
      if (i == 3)
        {
          ManifestEntry *e = g_new0 (ManifestEntry, 1);
          e->size = g_ascii_strtoull (fields[1], NULL, 10);
          e->mtime = g_ascii_strtoll (fields[2], NULL, 10);
          g_hash_table_replace (m, g_strdup (fields[0]), e);
        }
    }
  return m;
}

static GByteArray *
manifest_serialize (GHashTable *m)
{
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GList) keys = g_hash_table_get_keys (m);

  keys = g_list_sort (keys, (GCompareFunc) strcmp);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      ManifestEntry *e = g_hash_table_lookup (m, l->data);
      g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, e->size);
      g_autofree char *mtime = g_strdup_printf ("%" G_GINT64_FORMAT, e->mtime);
      g_byte_array_append (out, l->data, strlen (l->data) + 1);
      g_byte_array_append (out, (const guint8 *) size, strlen (size) + 1);
      g_byte_array_append (out, (const guint8 *) mtime, strlen (mtime) + 1);
    }
  return out;
}

/* `tar -x` for each format, reading the file named next (or - for stdin). */
static const char *const tar_extract[] = {
  [FERRY_ARCHIVE_ZSTD] = "tar --zstd -xf",
  [FERRY_ARCHIVE_GZIP] = "tar -xzf",
  [FERRY_ARCHIVE_NONE] = "tar -xf",
};

/* The changed files, then the updated manifest, as one archive written to fd. */
static gboolean
write_push_archive (int fd, FerryArchiveFormat format, GPtrArray *changed, GHashTable *manifest,
                    FerryPushStats *stats, GCancellable *cancellable, GError **error)
{
  /* zstd level 1: the stream must keep up with the link, not shrink to the last byte. */
  g_autoptr(FerryArchiveWriter) w
      = ferry_archive_writer_new (fd, format, format == FERRY_ARCHIVE_ZSTD ? 1 : 0, error);
  g_autoptr(GByteArray) mbytes = NULL;
  g_autoptr(GBytes) mcontents = NULL;
  gboolean ok = TRUE;

  if (w == NULL)
    return FALSE;
  for (guint i = 0; ok && i < changed->len; i++)
    {
      ok = ferry_archive_writer_add (w, changed->pdata[i], cancellable, error);
      if (ok)
        stats->files_sent++;
    }
  stats->bytes_sent = ferry_archive_writer_get_bytes (w);
  if (!ok)
    return FALSE;
  mbytes = manifest_serialize (manifest);
  mcontents = g_bytes_new (mbytes->data, mbytes->len);
  return ferry_archive_writer_add_bytes (w, MANIFEST, mcontents, 0600, time (NULL), error)
         && ferry_archive_writer_close (w, error);
}

void
ferry_remote_set_via_s3 (FerryRemote *remote, FerryAws *aws, const char *bucket,
                         const char *state_dir, const char *deployment)
{
  remote->s3_aws = aws;
  g_free (remote->s3_bucket);
  remote->s3_bucket = g_strdup (bucket);
  g_free (remote->s3_state_dir);
  remote->s3_state_dir = g_strdup (state_dir);
  g_free (remote->s3_deployment);
  remote->s3_deployment = g_strdup (deployment);
}

static const char probe_cmd[] =
  "if command -v zstd >/dev/null 2>&1 && tar --zstd --version >/dev/null 2>&1; then echo zstd;"
  " elif command -v gzip >/dev/null 2>&1; then echo gzip; else echo none; fi;";

/* One round trip: what the remote tar can decompress, and what it already has. */
static gboolean
push_probe (FerryRemote *remote, const char *remote_dir, GBytes **out, GCancellable *cancellable,
            GError **error)
{
  g_autoptr(GString) cmd = g_string_new (probe_cmd);
  g_autofree char *m = g_strconcat (remote_dir, "/" MANIFEST, NULL);

  ferry_remote_cmd_op (cmd, "cat");
  ferry_remote_cmd_path (cmd, m);
  ferry_remote_cmd_op (cmd, "2>/dev/null; true");
  return ferry_remote_capture (remote, cmd->str, out, NULL, cancellable, error);
}

/* The store a push goes through, made once (early, for its listing to overlap the dry run). */
static FerryStore *
remote_store (FerryRemote *remote)
{
  if (remote->s3_store == NULL)
    {
      remote->s3_store = ferry_store_new (remote->s3_aws, remote->s3_bucket, remote->s3_state_dir);
      ferry_store_set_log (remote->s3_store, remote->log, remote->log_data);
    }
  return remote->s3_store;
}

static gboolean
early_probe_step (gpointer data, GCancellable *cancellable, GError **error)
{
  FerryRemote *remote = data;

  return push_probe (remote, remote->early_dir, &remote->early_probe, cancellable, error);
}

static gboolean
early_scan_step (gpointer data, GCancellable *cancellable, GError **error)
{
  FerryRemote *remote = data;

  return ferry_store_scan (remote->s3_store, cancellable, error);
}

void
ferry_remote_push_early (FerryRemote *remote, const char *remote_dir, GCancellable *cancellable)
{
  if (remote->early != NULL)
    return;
  ferry_remote_connect_early (remote);
  g_free (remote->early_dir);
  remote->early_dir = g_strdup (remote_dir);
  remote->early = ferry_pool_new (0, cancellable);
  ferry_pool_add (remote->early, "asking the remote what it has", early_probe_step, remote, NULL,
                  NULL);
  if (remote->s3_bucket != NULL)
    {
      remote_store (remote);
      ferry_pool_add (remote->early, "listing the store", early_scan_step, remote, NULL, NULL);
    }
  ferry_pool_start (remote->early);
}

/* Waits for the early steps, if any were started. */
static gboolean
early_finish (FerryRemote *remote, GError **error)
{
  g_autoptr(FerryPool) pool = g_steal_pointer (&remote->early);

  return pool == NULL || ferry_pool_run (pool, error);
}

typedef struct
{
  FerryStore *store;
  const char *key;
  GCancellable *cancellable;
  GError *error;
} ManifestPut;

static gpointer
put_manifest_thread (gpointer data)
{
  ManifestPut *p = data;

  ferry_store_put_manifest (p->store, p->key, p->cancellable, &p->error);
  return NULL;
}

/* The store's half of a push: the files into the bucket (only what it lacks goes up) and a manifest
 * written locally. With the early steps it is one of them, beside the remote's answer, which it
 * does not need. */
typedef struct
{
  FerryRemote *remote;
  const char *const *files;
  char *key;
  FerryStoreStats ss;
} StoreUpload;

static void
store_upload_clear (StoreUpload *u)
{
  g_free (u->key);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StoreUpload, store_upload_clear)

static gboolean
store_upload_step (gpointer data, GCancellable *cancellable, GError **error)
{
  StoreUpload *u = data;
  FerryStore *store = remote_store (u->remote);
  g_autoptr(json_t) meta = json_object ();

  if (u->remote->s3_deployment != NULL)
    json_object_set_new (meta, "deployment", json_string (u->remote->s3_deployment));
  ferry_store_set_defer_manifest (store, TRUE);
  u->key = ferry_store_push (store, u->files, "push", meta, &u->ss, cancellable, error);
  return u->key != NULL;
}

/* The rest of a push through the store: the remote restores the manifest (fetching only what its
 * disk lacks) while the manifest goes into the bucket, and the same command rewrites the ssh
 * push's manifest so that a later push over ssh knows what the remote has. */
static gboolean
push_via_store (FerryRemote *remote, const char *remote_dir, StoreUpload *u, GPtrArray *changed,
                GHashTable *manifest, FerryPushStats *stats, GCancellable *cancellable,
                GError **error)
{
  FerryStore *store = remote_store (remote);
  g_autoptr(GByteArray) mbytes = NULL;
  g_autoptr(GBytes) mcontents = NULL;
  FerryStoreRestoreStats rs;
  ManifestPut put = { 0 };
  GThread *put_thread;
  gboolean restored;

  if (u->key == NULL && !store_upload_step (u, cancellable, error))
    return FALSE;
  stats->store = TRUE;
  stats->files_sent = changed->len;
  stats->bytes_sent = u->ss.bytes_uploaded;
  stats->store_files = u->ss.files;
  stats->store_files_stored = u->ss.files_stored;
  stats->store_files_hashed = u->ss.files_hashed;
  stats->store_puts = u->ss.puts;
  g_strlcpy (stats->store_manifest, u->key, sizeof stats->store_manifest);
  put.store = store;
  put.key = u->key;
  put.cancellable = cancellable;
  mbytes = manifest_serialize (manifest);
  mcontents = g_bytes_new (mbytes->data, mbytes->len);
  put_thread = g_thread_new ("store-manifest", put_manifest_thread, &put);
  restored = ferry_store_restore_remote_full (store, remote, remote_dir, u->key, MANIFEST, mcontents,
                                              &rs, cancellable, error);
  g_thread_join (put_thread);
  if (!restored)
    return FALSE;
  if (put.error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&put.error));
      return FALSE;
    }
  stats->remote_fetched = rs.fetched;
  stats->remote_bytes = rs.bytes;
  return TRUE;
}

char *
ferry_remote_push_summary (FerryRemote *remote, const char *remote_dir, const FerryPushStats *stats)
{
  if (!stats->store)
    return g_strdup_printf ("pushed %u of %u files (%" G_GUINT64_FORMAT " bytes, %s) to %s:%s",
                            stats->files_sent, stats->files_total, stats->bytes_sent,
                            stats->compression ? stats->compression : "none", remote->host,
                            remote_dir);
  return g_strdup_printf ("pushed %u of %u files (%" G_GUINT64_FORMAT " bytes) to %s:%s through "
                          "s3://%s\nstore: %u of %u files already stored, %" G_GUINT64_FORMAT
                          " bytes uploaded in %u PUTs (%u files read, the rest a stat); the remote "
                          "fetched %u files (%" G_GUINT64_FORMAT " bytes)",
                          stats->files_sent, stats->files_total, stats->bytes_sent, remote->host,
                          remote_dir, remote->s3_bucket, stats->store_files_stored,
                          stats->store_files, stats->bytes_sent, stats->store_puts,
                          stats->store_files_hashed, stats->remote_fetched, stats->remote_bytes);
}

gboolean
ferry_remote_push (FerryRemote *remote, const char *remote_dir, const char *const *files,
                   FerryPushStats *stats, GCancellable *cancellable, GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GBytes) probe = NULL;
  g_autoptr(GHashTable) manifest = NULL;
  g_auto(StoreUpload) upload = { .remote = remote, .files = files };
  gboolean ok;
  g_autoptr(FerryFileSet) set = NULL;
  g_autoptr(GPtrArray) changed = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) write_error = NULL;
  FerryArchiveFormat format;
  g_autofree char *err = NULL;
  const char *data, *nl;
  gsize len;
  int err_fd = -1, code;
  gulong cancel_id;
  GOutputStream *in;

  memset (stats, 0, sizeof *stats);
  set = ferry_file_set_new (files, error);
  if (set == NULL)
    return FALSE;

  if (remote->early != NULL && g_strcmp0 (remote->early_dir, remote_dir) == 0)
    {
      if (remote->s3_bucket != NULL)
        {
          const char *after[] = { "listing the store", NULL };
          ferry_pool_add (remote->early, "storing the files", store_upload_step, &upload, after,
                          NULL);
        }
      ok = early_finish (remote, error);
      probe = g_steal_pointer (&remote->early_probe);
      if (!ok)
        return FALSE;
    }
  else
    {
      early_finish (remote, NULL);
      if (!push_probe (remote, remote_dir, &probe, cancellable, error))
        return FALSE;
    }
  data = g_bytes_get_data (probe, &len);
  nl = memchr (data, '\n', len);
  if (nl == NULL)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "unexpected answer from the remote probe");
  if (remote->compression != NULL && g_str_equal (remote->compression, "none"))
    stats->compression = "none";
  else if (g_str_has_prefix (data, "zstd\n"))
    stats->compression = "zstd";
  else if (g_str_has_prefix (data, "gzip\n"))
    stats->compression = "gzip";
  else
    stats->compression = "none";
  manifest = manifest_parse (nl + 1, len - (nl + 1 - data));

  for (guint i = 0; i < set->members->len; i++)
    {
      FerryArchiveMember *m = set->members->pdata[i];
      ManifestEntry *e = g_hash_table_lookup (manifest, m->path);
      stats->files_total++;
      if (e != NULL && e->size == (guint64) m->st.st_size && e->mtime == (gint64) m->st.st_mtim.tv_sec)
        continue;
      g_ptr_array_add (changed, m);
      e = g_new0 (ManifestEntry, 1);
      e->size = m->st.st_size;
      e->mtime = m->st.st_mtim.tv_sec;
      g_hash_table_replace (manifest, g_strdup (m->path), e);
    }
  if (changed->len == 0)
    {
      /* Nothing for the remote: the manifest the store's half wrote is not put. */
      if (upload.key != NULL)
        ferry_store_forget_manifest (remote_store (remote), upload.key);
      return TRUE;
    }

  format = g_str_equal (stats->compression, "zstd")   ? FERRY_ARCHIVE_ZSTD
           : g_str_equal (stats->compression, "gzip") ? FERRY_ARCHIVE_GZIP
                                                       : FERRY_ARCHIVE_NONE;
  if (remote->s3_bucket != NULL)
    return push_via_store (remote, remote_dir, &upload, changed, manifest, stats, cancellable,
                           error);

  g_string_truncate (cmd, 0);
  ferry_remote_cmd_op (cmd, "mkdir -p");
  ferry_remote_cmd_path (cmd, remote_dir);
  ferry_remote_cmd_op (cmd, "&& cd");
  ferry_remote_cmd_path (cmd, remote_dir);
  ferry_remote_cmd_op (cmd, "&&");
  ferry_remote_cmd_op (cmd, tar_extract[format]);
  ferry_remote_cmd_op (cmd, "-");

  proc = start_ssh (remote, FALSE, cmd->str, G_SUBPROCESS_FLAGS_STDIN_PIPE, &err_fd, error);
  if (proc == NULL)
    return FALSE;
  in = g_subprocess_get_stdin_pipe (proc);
  cancel_id = ferry_remote_kill_on_cancel (proc, cancellable);
  write_push_archive (g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (in)), format, changed,
                      manifest, stats, cancellable, &write_error);
  g_output_stream_close (in, NULL, NULL);
  if (!ferry_remote_child_finish (proc, cancellable, cancel_id, error))
    {
      close (err_fd);
      return FALSE;
    }
  err = ferry_remote_read_stderr (err_fd);
  code = ferry_remote_exit_code (g_subprocess_get_status (proc));
  if (!ferry_remote_check_connection (remote, code, err, error))
    return FALSE;
  if (code != 0)
    {
      g_autofree char *line = ferry_remote_last_line (err);
      g_autofree char *who = ferry_remote_display (remote);
      return ferry_throw (error, FERRY_ERROR_CHILD, "unpacking on %s failed (exit %d)%s%s", who, code,
                          *line ? ": " : "", line);
    }
  if (write_error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&write_error), "sending to %s: ",
                                  remote->host);
      return FALSE;
    }
  return TRUE;
}

/* --- pull --------------------------------------------------------------------------------------- */

char *
ferry_remote_incomplete_marker (const char *path)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) path, strlen (path));
  g_autoptr(GString) out = g_string_new (NULL);
  gsize len, chunk = 254;

  for (char *p = b64; *p; p++)
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  len = strlen (b64);
  for (gsize i = 0; i < len; i += chunk)
    {
      gboolean last = i + chunk >= len;
      if (!last)
        g_string_append_c (out, '@');
      g_string_append_len (out, b64 + i, MIN (chunk, len - i));
      if (!last)
        g_string_append_c (out, '/');
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
ferry_remote_extract_fd (int fd, const char *const *allowed, FerryPullStats *stats, GError **error)
{
  guint entries = 0;
  guint64 bytes = 0;
  gboolean ok = ferry_archive_extract_fd (fd, allowed, &entries, &bytes, error);

  if (stats)
    {
      stats->entries += entries;
      stats->bytes += bytes;
    }
  return ok;
}

typedef struct
{
  GHashTable *markers;  /* incomplete marker (relative to .snakemake/incomplete) -> output */
  GHashTable *skipped;  /* outputs marked incomplete on the remote */
  GByteArray *manifest; /* "path\0size\0mtime\0" of each file extracted */
} PullFilter;

#define INCOMPLETE_DIR ".snakemake/incomplete"

static FerryExtractAction
pull_filter (FerryArchiveEntry *entry, gpointer user_data)
{
  PullFilter *f = user_data;
  const char *path = archive_entry_pathname (entry);

  if (g_str_has_prefix (path, "./"))
    path += 2;
  if (g_str_has_prefix (path, INCOMPLETE_DIR)
      && (path[strlen (INCOMPLETE_DIR)] == '\0' || path[strlen (INCOMPLETE_DIR)] == '/'))
    {
      const char *output = NULL;
      if (archive_entry_filetype (entry) == AE_IFREG)
        output = g_hash_table_lookup (f->markers, path + strlen (INCOMPLETE_DIR "/"));
      if (output != NULL)
        g_hash_table_add (f->skipped, (gpointer) output);
      return FERRY_EXTRACT_SKIP;
    }
  if (ferry_archive_path_under (path, f->skipped))
    return FERRY_EXTRACT_SKIP;
  if (archive_entry_filetype (entry) == AE_IFREG)
    {
      g_autofree char *size = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) archive_entry_size (entry));
      g_autofree char *mtime = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) archive_entry_mtime (entry));
      g_byte_array_append (f->manifest, (const guint8 *) path, strlen (path) + 1);
      g_byte_array_append (f->manifest, (const guint8 *) size, strlen (size) + 1);
      g_byte_array_append (f->manifest, (const guint8 *) mtime, strlen (mtime) + 1);
    }
  return FERRY_EXTRACT_CHECK;
}

gboolean
ferry_remote_pull (FerryRemote *remote, const char *remote_dir, const char *const *paths,
                   FerryPullStats *stats, GCancellable *cancellable, GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GHashTable) markers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) skipped = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GByteArray) manifest = g_byte_array_new ();
  g_autoptr(GByteArray) list = g_byte_array_new ();
  g_autoptr(GBytes) input = NULL;
  PullFilter filter = { markers, skipped, manifest };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) extract_error = NULL;
  g_autofree char *err = NULL;
  GInputStream *out;
  int err_fd = -1, code;
  gulong cancel_id;

  memset (stats, 0, sizeof *stats);
  for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
    if (!ferry_archive_check_relative (paths[i], error))
      return FALSE;
  if (paths == NULL || paths[0] == NULL)
    return TRUE;

  /* The outputs go over stdin, NUL-separated, into a file first (tar may start writing before
   * ferry has sent the whole list). Snakemake's incomplete markers lead the stream, so an output
   * marked incomplete there is known before it arrives, and skipped. */
  ferry_remote_cmd_op (cmd, "cd");
  ferry_remote_cmd_path (cmd, remote_dir);
  ferry_remote_cmd_op (cmd, "&& l=" PULL_LIST ".$$ && cat >\"$l\" && if command -v zstd >/dev/null 2>&1"
                            " && tar --zstd --version >/dev/null 2>&1; then z=--zstd; else z=-z; fi"
                            " && tar $z -cf - --ignore-failed-read .snakemake/incomplete --null -T"
                            " \"$l\"; rc=$?; rm -f \"$l\"; exit $rc");
  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autofree char *marker = ferry_remote_incomplete_marker (paths[i]);
      g_byte_array_append (list, (const guint8 *) paths[i], strlen (paths[i]) + 1);
      g_hash_table_insert (filter.markers, g_steal_pointer (&marker), (gpointer) paths[i]);
    }
  input = g_byte_array_free_to_bytes (g_steal_pointer (&list));

  proc = start_ssh (remote, FALSE, cmd->str,
                    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err_fd, error);
  if (proc == NULL)
    return FALSE;
  cancel_id = ferry_remote_kill_on_cancel (proc, cancellable);
  {
    GOutputStream *in = g_subprocess_get_stdin_pipe (proc);
    g_autoptr(GError) write_error = NULL;
    /* The remote reads it all before writing anything. A failure shows as the remote's exit. */
    g_output_stream_write_all (in, g_bytes_get_data (input, NULL), g_bytes_get_size (input), NULL,
                               cancellable, &write_error);
    g_output_stream_close (in, NULL, NULL);
  }
  out = g_subprocess_get_stdout_pipe (proc);
  ferry_archive_extract_fd_full (g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (out)), paths,
                                 pull_filter, &filter, &stats->entries, &stats->bytes,
                                 &extract_error);
  if (extract_error != NULL)
    g_subprocess_send_signal (proc, SIGTERM);
  g_input_stream_close (out, NULL, NULL);
  if (!ferry_remote_child_finish (proc, cancellable, cancel_id, error))
    {
      close (err_fd);
      return FALSE;
    }
  err = ferry_remote_read_stderr (err_fd);
  code = ferry_remote_exit_code (g_subprocess_get_status (proc));
  if (extract_error == NULL && !ferry_remote_check_connection (remote, code, err, error))
    return FALSE;
  if (extract_error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&extract_error), "pull from %s: ",
                                  remote->host);
      return FALSE;
    }
  if (code != 0)
    {
      g_autofree char *line = ferry_remote_last_line (err);
      g_autofree char *who = ferry_remote_display (remote);
      return ferry_throw (error, FERRY_ERROR_CHILD, "packing the outputs on %s failed (exit %d)%s%s",
                          who, code, *line ? ": " : "", line);
    }
  /* What came back goes into the push manifest, so a later push does not send back what the remote
   * made itself. */
  if (filter.manifest->len > 0)
    {
      g_autoptr(GString) append = g_string_new (NULL);
      g_autoptr(GBytes) records = g_bytes_new (filter.manifest->data, filter.manifest->len);
      ferry_remote_cmd_op (append, "cd");
      ferry_remote_cmd_path (append, remote_dir);
      ferry_remote_cmd_op (append, "&& cat >>" MANIFEST);
      return ferry_remote_capture_full (remote, append->str, records, NULL, NULL, cancellable,
                                        error);
    }
  return TRUE;
}

/* --- run ---------------------------------------------------------------------------------------- */

gboolean
ferry_remote_wait_ready (FerryRemote *remote, guint timeout_s, GCancellable *cancellable,
                         GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  gboolean said = FALSE;

  ferry_remote_cmd_op (cmd, "command -v snakemake >/dev/null 2>&1 && snakemake --version >/dev/null"
                            " 2>&1 && echo snakemake; test -e");
  ferry_remote_cmd_word (cmd, READY_MARKER);
  ferry_remote_cmd_op (cmd, "&& echo ready; true");
  for (;;)
    {
      g_autoptr(GBytes) out = NULL;
      g_autofree char *text = NULL;
      gboolean has_snakemake, ready;

      if (!ferry_remote_capture (remote, cmd->str, &out, NULL, cancellable, error))
        return FALSE;
      text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
      has_snakemake = strstr (text, "snakemake\n") != NULL;
      ready = strstr (text, "ready\n") != NULL;
      if (has_snakemake)
        return TRUE;
      if (!remote->ec2)
        return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                            "snakemake does not run on %s: install it there (or put it on the PATH of"
                            " non-interactive ssh sessions)",
                            remote->host);
      if (ready)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "the instance finished its setup (%s) but snakemake does not run there;"
                            " see ferry ssh -- sudo cat /var/log/cloud-init-output.log",
                            READY_MARKER);
      if (g_get_monotonic_time () > deadline)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "the instance is still not ready after %u s (no %s yet);"
                            " see ferry ssh -- sudo cat /var/log/cloud-init-output.log",
                            timeout_s, READY_MARKER);
      if (!said && remote->log != NULL)
        {
          remote->log ("waiting for the instance to finish installing snakemake"
                       " (" READY_MARKER ")...", remote->log_data);
          said = TRUE;
        }
      if (!ferry_sleep (5000, cancellable, error))
        return FALSE;
    }
}

FerryRemote *
ferry_remote_open (FerryState *state, const char *host_spec, const char *user,
                   const char *const *options, GError **error)
{
  if (host_spec != NULL)
    return ferry_remote_new_host (host_spec, user, options, ferry_state_get_dir (state), error);
  return ferry_remote_new_from_state (state, user, options, error);
}
