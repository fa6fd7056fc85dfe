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
  char *s3_bucket;    /* push through the store in this bucket (store.h), or NULL: over ssh */
  FerryAws *s3_aws;   /* borrowed: the aws that uploads to the store */
  char *s3_state_dir; /* where the store keeps its local index and records */
  char *s3_deployment; /* recorded in the store's manifests */
  GSubprocess *warmup; /* the connection started early (ferry_remote_connect_early) */
  GMutex warmup_lock;   /* early steps wait for the warmup from their threads */
  struct _FerryPool *early;     /* ferry_remote_push_early's steps, under way */
  char *early_dir;              /* the remote dir they are for */
  GBytes *early_probe;          /* the probe's answer */
  struct _FerryStore *s3_store; /* the store, its listing made early */
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

/* The ssh argv: fixed options, then -o OPT for each user option, -l USER, HOST, then `command` (a
 * /bin/sh script, its words already quoted; NULL for an interactive shell), handed to the login
 * shell as ferry_remote_login_command. With `tty`, -t. */
GStrv ferry_remote_ssh_argv (FerryRemote *remote, gboolean tty, const char *command);

/* `exec /bin/sh -c SCRIPT`, spelled so that any login shell (sh, bash, zsh, tcsh/csh, fish) hands
 * SCRIPT to /bin/sh unchanged. */
char *ferry_remote_login_command (const char *script);

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

/* As ferry_remote_capture, with `input` (may be NULL) fed to the remote command's stdin: the way a
 * list of paths or a file's contents reaches the remote (never an argv). */
gboolean ferry_remote_capture_full (FerryRemote *remote, const char *command, GBytes *input,
                                    GBytes **out_stdout, int *out_exit, GCancellable *cancellable,
                                    GError **error);

/* Starts the connection (the ControlMaster) in the background, so its handshake overlaps local work
 * such as snakemake's dry run. The first remote command waits for it; a failure shows there. */
void ferry_remote_connect_early (FerryRemote *remote);

/* Starts what a push to remote_dir asks before it knows its files, so that it overlaps local work
 * (snakemake's dry run): the connection, the remote's manifest and the tar it has, and through the
 * store the bucket's listing (an aws process). The next ferry_remote_push to remote_dir takes their
 * answers; a failure shows there. */
void ferry_remote_push_early (FerryRemote *remote, const char *remote_dir, GCancellable *cancellable);

/* Ends the ControlMaster (ssh -O exit) so no ssh process outlives the command. */
void ferry_remote_close (FerryRemote *remote);

/* Default remote dir: ~/ferry/<name>. */
char *ferry_remote_default_dir (const char *name);

/* --- push ------------------------------------------------------------------------------------- */

typedef struct
{
  guint files_total;
  guint files_sent;
  guint64 bytes_sent; /* file contents sent (before compression); through the store, uploaded */
  const char *compression;
  gboolean store;              /* went through the store: the members below are set */
  guint store_files;           /* regular files the store's manifest holds */
  guint store_files_stored;    /* of those, files whose content the bucket already had */
  guint store_files_hashed;    /* files read to hash them (the rest were a stat) */
  guint store_puts;            /* PUT requests the laptop made */
  guint remote_fetched;        /* files the remote got from the bucket */
  guint64 remote_bytes;        /* bytes it downloaded */
  char store_manifest[160];    /* the push's manifest key */
} FerryPushStats;

/* The one line push and run print after a push ("pushed N of M files ..."), and through the store
 * a second one: what the bucket had, what went up, what the remote fetched. */
char *ferry_remote_push_summary (FerryRemote *remote, const char *remote_dir,
                                 const FerryPushStats *stats);

/* Sends `files` (relative to the current dir) to remote_dir, streaming an archive from libarchive
 * into `ssh HOST tar -x`. Files whose size and mtime match the remote manifest are skipped; the
 * manifest is updated in the same stream. */
gboolean ferry_remote_push (FerryRemote *remote, const char *remote_dir, const char *const *files,
                            FerryPushStats *stats, GCancellable *cancellable, GError **error);

/* From now on push goes through the store in `bucket` (store.h): the laptop uploads what the
 * bucket lacks and writes a manifest, the remote fetches what its disk lacks with its own aws (an
 * instance's profile). state_dir holds the store's local index; `deployment` names the manifests. */
void ferry_remote_set_via_s3 (FerryRemote *remote, FerryAws *aws, const char *bucket,
                              const char *state_dir, const char *deployment);

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


/* --- runs: snakemake living on the remote ------------------------------------------------------ */

typedef enum
{
  FERRY_RUN_RUNNING,
  FERRY_RUN_EXITED,    /* snakemake ended; exit_status is its status */
  FERRY_RUN_CANCELLED, /* ferry cancel stopped it */
  FERRY_RUN_LOST,      /* gone without an exit status (the remote rebooted, a kill -9) */
} FerryRunState;

/* A run as its record under DIR/.ferry/runs/ID/ tells it: run.json (written by ferry: id, targets,
 * snakemake_args, argv, then, pull, remote_dir, on_end...), pid, started, log, ended, exit,
 * cancelled, and with an agent (core/agent.h) agent.sh, agent.pid, on-end, hold. */
typedef struct
{
  char *id;
  json_t *record;  /* run.json */
  FerryRunState state;
  int exit_status; /* snakemake's, once it ended (also when cancelled); else -1 */
  gint64 pgid;     /* the run's process group and session; 0 before it is known */
  gint64 started;  /* remote clock, seconds since the epoch; 0 if unknown */
  gint64 ended;    /* remote clock; 0 while running */
  gint64 now;      /* remote clock when it was listed */
  guint64 log_size;
  json_t *on_end;       /* the run's agent's record (core/agent.h): [[time, word, detail], ...] */
  gboolean agent_alive; /* the agent's process is there */
} FerryRun;

void ferry_run_free (FerryRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryRun, ferry_run_free)
const char *ferry_run_state_name (FerryRunState state);
/* A new id: UTC time, then 4 hex digits (ids sort by start). */
char *ferry_run_new_id (void);
gboolean ferry_run_id_valid (const char *id);
/* id, state, record, exit_status, pgid, started, ended, seconds, log_bytes. */
json_t *ferry_run_to_json (FerryRun *run);

/* Starts `argv` (snakemake's) in remote_dir, in a session of its own that no lost connection,
 * killed ferry or closed terminal ends. `record` (an object) gets id and remote_dir and is kept as
 * run.json; argv and record reach the remote over stdin. */
FerryRun *ferry_remote_run_start (FerryRemote *remote, const char *remote_dir, const char *id,
                                  json_t *record, const char *const *argv,
                                  GCancellable *cancellable, GError **error);

/* The runs in remote_dir, oldest first (an empty array when there are none). */
GPtrArray *ferry_remote_runs_list (FerryRemote *remote, const char *remote_dir,
                                   GCancellable *cancellable, GError **error);
/* The run `id`, or the newest when id is NULL. FERRY_ERROR_NOT_FOUND when there is none. */
FerryRun *ferry_remote_run_find (FerryRemote *remote, const char *remote_dir, const char *id,
                                 GCancellable *cancellable, GError **error);

typedef struct
{
  guint64 offset;            /* in: the byte of the remote log to start at; out: bytes seen */
  int tail_lines;            /* >= 0 (with offset 0): start at the log's last N lines instead */
  guint reconnect_timeout_s; /* how long to keep reconnecting once the connection is lost */
  GOutputStream *display;    /* the log as it comes (stdout), or NULL */
  GOutputStream *log;        /* the local copy, or NULL */
  FerryLogFunc note;         /* one-line notes: connection lost, reconnected, status lines */
  /* Called every status_interval_s while connected; a line it returns goes to `note` (the SLURM
   * queue while following, say). */
  char *(*status_line) (FerryRun *run, gpointer hook_data, GCancellable *cancellable);
  guint status_interval_s;
  gpointer hook_data; /* for note and status_line */
  /* Keep the run's hold fresh while following, so that its agent waits for the pull before it
   * stops the instance (ferry_agent_release lets it go on). */
  gboolean hold;
} FerryFollow;

/* Streams the run's log from follow->offset until the run ends, then fills run's state and exit
 * status. A lost connection is said through `note` and retried with backoff for
 * reconnect_timeout_s; the log resumes at the byte where it stopped. Cancelling stops following
 * (G_IO_ERROR_CANCELLED), never the run. */
gboolean ferry_remote_run_follow (FerryRemote *remote, const char *remote_dir, FerryRun *run,
                                  FerryFollow *follow, GCancellable *cancellable, GError **error);

/* Stops a running run as snakemake stops cleanly: SIGINT to its process group, SIGTERM after
 * grace_s, SIGKILL after as long again, and waits until the group is gone; the record says
 * cancelled. A run that had already ended is left as it is (*out_was_running FALSE). */
gboolean ferry_remote_run_cancel (FerryRemote *remote, const char *remote_dir, FerryRun *run,
                                  guint grace_s, gboolean *out_was_running,
                                  GCancellable *cancellable, GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* Whether snakemake's arguments ask for conda environments (--use-conda, --sdm conda). */
gboolean ferry_remote_snakemake_args_use_conda (const char *const *args);
/* For --use-conda: checks that conda or mamba is on the remote's PATH (one clear error if not) and
 * returns the stable prefix for the environments, $HOME/.ferry/conda on the remote. */
char *ferry_remote_conda_prefix (FerryRemote *remote, GCancellable *cancellable, GError **error);

/* --host [USER@]HOST when given, else the state's instance. The state must be open. */
FerryRemote *ferry_remote_open (FerryState *state, const char *host_spec, const char *user,
                                const char *const *options, GError **error);
G_END_DECLS
