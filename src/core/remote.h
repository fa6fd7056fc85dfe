/* The remote end over ssh: argv (ControlMaster, ferry's known_hosts, the key), the one quoted remote
 * command string, and the push / run / pull streams. */
#pragma once

#include "ferry-common.h"
#include "aws.h"
#include "state.h"

G_BEGIN_DECLS

typedef struct
{
  char *host;         /* the host name given to ssh */
  char *user;         /* -l USER, or NULL for ssh's default */
  char *identity;     /* -i PEM (with IdentitiesOnly=yes), or NULL */
  char *known_hosts;  /* ferry's own UserKnownHostsFile */
  char *control_path; /* short socket path under /tmp/ferry-<uid>/ */
  GStrv options;      /* the user's --ssh-option values, each passed as -o OPT */
  gboolean ec2;       /* an instance ferry launched: wait for the user-data's ready marker */
  char *compression;  /* push: NULL (the best the remote tar takes) or "none" */
  char *s3_bucket;    /* push through this bucket (--via s3), or NULL: straight over ssh */
  FerryAws *s3_aws;   /* borrowed: the aws that uploads and deletes the object */
  GSubprocess *warmup; /* the connection started early (ferry_remote_connect_early) */
  gboolean connected;  /* this process ran ssh: freeing the remote ends the master */
  gboolean verbose;
  FerryLogFunc log;
  gpointer log_data;
} FerryRemote;

void ferry_remote_free (FerryRemote *remote);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryRemote, ferry_remote_free)

/* A remote given as `[USER@]HOST` (an HPC login node, any ssh host): no AWS involved. A user in the
 * spec wins over `user`. known_hosts lives in state_dir. */
FerryRemote *ferry_remote_new_host (const char *spec, const char *user, const char *const *options,
                                    const char *state_dir, GError **error);

/* The state's instance: its public DNS name (else its address), the state's pem, and `user` (default
 * ec2-user). When the instance id differs from the one known_hosts was made for, the old host key
 * is dropped. FERRY_ERROR_NOT_FOUND when the state has no instance. */
FerryRemote *ferry_remote_new_from_state (FerryState *state, const char *user,
                                          const char *const *options, GError **error);

/* The ssh argv: fixed options, then -o OPT for each user option, -l USER, HOST, then `command` (one
 * string, already quoted; NULL for an interactive shell). With `tty`, -t. */
GStrv ferry_remote_ssh_argv (FerryRemote *remote, gboolean tty, const char *command);

/* Builds the remote command: words are quoted with g_shell_quote; a path word keeps a leading `~/`
 * unquoted so the remote shell expands it; operators are fixed strings of this program. */
void ferry_remote_cmd_word (GString *cmd, const char *word);
void ferry_remote_cmd_path (GString *cmd, const char *path);
void ferry_remote_cmd_op (GString *cmd, const char *op);
/* The command line of argv words (each quoted). */
char *ferry_remote_quote_argv (const char *const *argv);

/* Runs `command` remotely and captures its output (binary-safe). A connection failure (ssh exits
 * 255) is an error naming the host and ssh's last line; with check, so is any non-zero exit. */
gboolean ferry_remote_capture (FerryRemote *remote, const char *command, GBytes **out_stdout,
                               int *out_exit, GCancellable *cancellable, GError **error);

/* Starts the connection (the ControlMaster) in the background, so its handshake overlaps local work
 * such as snakemake's dry run. The first remote command waits for it; a failure shows there. */
void ferry_remote_connect_early (FerryRemote *remote);

/* Ends the ControlMaster (ssh -O exit) so no ssh process outlives the command. */
void ferry_remote_close (FerryRemote *remote);

/* Default remote dir: ~/ferry/<name>. */
char *ferry_remote_default_dir (const char *name);

/* --- push ------------------------------------------------------------------------------------- */

typedef struct
{
  guint files_total;
  guint files_sent;
  guint64 bytes_sent; /* file contents sent (before compression) */
  const char *compression;
} FerryPushStats;

/* Sends `files` (relative to the current dir) to remote_dir, streaming an archive from libarchive
 * into `ssh HOST tar -x`. Files whose size and mtime match the remote manifest are skipped; the
 * manifest is updated in the same stream. */
gboolean ferry_remote_push (FerryRemote *remote, const char *remote_dir, const char *const *files,
                            FerryPushStats *stats, GCancellable *cancellable, GError **error);

/* From now on push goes through `bucket`: the archive is uploaded with `aws s3 cp -`, the remote
 * fetches it with its own aws (an instance's profile), unpacks it, and the object is deleted. */
void ferry_remote_set_via_s3 (FerryRemote *remote, FerryAws *aws, const char *bucket);

/* --- pull ------------------------------------------------------------------------------------- */

typedef struct
{
  guint entries;
  guint64 bytes;
} FerryPullStats;

/* Brings `paths` (relative; directories whole) back from remote_dir into the current dir, skipping
 * those the remote does not have or that snakemake marks incomplete there. The stream from remote
 * `tar -c` is extracted securely (no `..`, no absolute paths, no writing through symlinks), keeping
 * mtimes, and only entries under the requested paths are accepted. */
gboolean ferry_remote_pull (FerryRemote *remote, const char *remote_dir, const char *const *paths,
                            FerryPullStats *stats, GCancellable *cancellable, GError **error);

/* Snakemake's incomplete marker for an output path, relative to .snakemake/incomplete. */
char *ferry_remote_incomplete_marker (const char *path);

/* Extracts a tar stream read from fd into the current dir with the secure flags, accepting only
 * entries under `allowed` (NULL: any). Exposed for the unit tests. */
gboolean ferry_remote_extract_fd (int fd, const char *const *allowed, FerryPullStats *stats,
                                  GError **error);

/* --- run -------------------------------------------------------------------------------------- */

/* Checks that snakemake runs on the remote. On an instance ferry launched, while it does not yet,
 * waits (up to timeout_s, saying so through remote->log) for the user-data's ready marker. */
gboolean ferry_remote_wait_ready (FerryRemote *remote, guint timeout_s, GCancellable *cancellable,
                                  GError **error);

/* Runs `snakemake_argv` in remote_dir with its output streamed live to stdout and copied to
 * log_path. SIGINT is passed on to the remote snakemake. *out_exit is snakemake's exit status. */
gboolean ferry_remote_run (FerryRemote *remote, const char *remote_dir,
                           const char *const *snakemake_argv, const char *log_path, int *out_exit,
                           GCancellable *cancellable, GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* --host [USER@]HOST when given, else the state's instance. The state must be open. */
FerryRemote *ferry_remote_open (FerryState *state, const char *host_spec, const char *user,
                                const char *const *options, GError **error);
G_END_DECLS
