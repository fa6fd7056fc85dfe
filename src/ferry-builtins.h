/* The subcommand table's types, the shared options every subcommand takes, and one prototype per verb. */
#pragma once

#include "core/ferry-common.h"
#include "core/aws.h"
#include "core/state.h"
#include "core/resources.h"
#include "core/remote.h"
#include "core/config.h"
#include "core/store.h"

G_BEGIN_DECLS

/* What to launch: the options bootstrap and launch share (each command keeps one static). */
typedef struct
{
  char *type;
  gint64 volume; /* G_MININT64: not given */
  gint64 hours;  /* G_MININT64: not given */
  gboolean spot;
  char *ami;
  gboolean no_wait_ssh;
} FerryLaunchArgs;

#define FERRY_LAUNCH_ARGS_INIT { .volume = G_MININT64, .hours = G_MININT64 }

/* Their entries, for a command's GOptionEntry array (`args` is its static FerryLaunchArgs). */
#define FERRY_LAUNCH_OPTION_ENTRIES(args)                                                          \
  { "instance-type", 0, 0, G_OPTION_ARG_STRING, &(args).type,                                      \
    "EC2 instance type (default " FERRY_DEFAULT_INSTANCE_TYPE ")", "TYPE" },                       \
  { "volume-size", 0, 0, G_OPTION_ARG_INT64, &(args).volume,                                      \
    "Root volume in GB, gp3 (default 30)", "GB" },                                                 \
  { "max-hours", 0, 0, G_OPTION_ARG_INT64, &(args).hours,                                          \
    "The instance terminates itself this many hours after launch (default 12)", "H" },             \
  { "spot", 0, 0, G_OPTION_ARG_NONE, &(args).spot, "Launch a one-time spot instance", NULL },      \
  { "ami", 0, 0, G_OPTION_ARG_STRING, &(args).ami,                                                 \
    "Image to launch (default: the latest Amazon Linux 2023)", "ID" },                             \
  { "no-wait-ssh", 0, 0, G_OPTION_ARG_NONE, &(args).no_wait_ssh,                                   \
    "Return once the instance runs, without waiting for SSH", NULL }

typedef enum
{
  FERRY_BUILTIN_FLAG_NONE = 0,
  FERRY_BUILTIN_FLAG_CONNECT = 1 << 0, /* takes --ssh-user and --ssh-option */
} FerryBuiltinFlags;

/* What the shared options, the environment, the config files and the kept state settle on. */
typedef struct
{
  const char *verb;
  char *endpoint_url;
  char *region;
  char *profile;
  char *state_dir;
  char *name;
  gboolean dry_run;
  gboolean yes;
  gboolean verbose;
  char *ssh_user;
  GStrv ssh_options;
  FerryAws *aws;     /* ready after ferry_option_context_parse */
  FerryState *state; /* opened by ferry_invocation_open_state */
  int exit_status;   /* a builtin that succeeds may still ask for this status (run: snakemake's) */
  gint signal;       /* SIGINT, SIGTERM or SIGHUP once one cancelled the invocation's cancellable, else 0 */
  FerryConfigLayers layers;              /* every source of settings, for check and the region */
  FerryLayer origins[FERRY_N_SETTINGS]; /* where each resolved setting came from */
} FerryInvocation;

/* Parses argv with the verb's own entries plus the shared group (and the ssh group with CONNECT),
 * then settles the settings. Unknown options and stray arguments are FERRY_ERROR_USAGE (exit 2). */
gboolean ferry_option_context_parse (GOptionContext *context, const GOptionEntry *entries, int *argc,
                                     char ***argv, FerryInvocation *inv, FerryBuiltinFlags flags,
                                     GCancellable *cancellable, GError **error);

/* Opens <state-dir>/state.json (see ferry_state_open). The settings it keeps were already taken into
 * account when the options were parsed. */
gboolean ferry_invocation_open_state (FerryInvocation *inv, gboolean create, gboolean lock,
                                      GError **error);

/* Settles the AWS region as aws-cli does (--region, FERRY_REGION, AWS_REGION, AWS_DEFAULT_REGION,
 * the config files, the profile's region, the state's) and hands it to inv->aws. No region is an
 * error; so is one that differs from the region the deployment was made in. Call before the first
 * aws call; a path without AWS (--host) never needs it. */
gboolean ferry_invocation_use_aws (FerryInvocation *inv, GCancellable *cancellable, GError **error);
/* The region alone (inv->region, inv->origins), for check. */
gboolean ferry_invocation_settle_region (FerryInvocation *inv, GCancellable *cancellable,
                                         GError **error);
/* `aws configure get region` for the invocation's profile, or NULL (an error only when aws could
 * not be run at all). */
char *ferry_invocation_profile_region (FerryInvocation *inv, GCancellable *cancellable,
                                       GError **error);

/* A usage error (exit 2). */
gboolean ferry_usage_error (GOptionContext *context, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

/* What follows the first `--` in argv (NULL if none): cut off there, untouched by option parsing. */
char **ferry_split_double_dash (int *argc, char **argv);

/* Asks "PROMPT [y/N]" on a terminal; TRUE without asking with --yes or when stdin is not a terminal. */
gboolean ferry_confirm (FerryInvocation *inv, const char *prompt);

/* "SIGINT", "SIGTERM" or "SIGHUP" (inv->signal's name). */
const char *ferry_signal_name (int signum);

/* Where the core's messages go: stderr, or stdout under --dry-run. */
void ferry_print_log (const char *message, gpointer user_data);

/* --- shared by bootstrap and the step commands (builtin-resources.c) --- */

/* Opens the state for making resources: created (0700) and locked, unless --dry-run, which writes
 * nothing. The connection settings given now are kept for later commands. */
gboolean ferry_resources_open (FerryInvocation *inv, GError **error);
/* A FerryResources over the invocation's aws and state, logging to stderr. */
void ferry_resources_init (FerryInvocation *inv, FerryResources *res);
/* The SSH source: --cidr (validated), else the one kept in the state, else the caller's public
 * address. Usage errors exit 2. */
char *ferry_resources_cidr (FerryInvocation *inv, const char *cli_cidr, gboolean allow_any,
                            GCancellable *cancellable, GError **error);
/* Launch options from the command line (unset: G_MININT64 / NULL), then the state's settings,
 * then the defaults; each checked. Keeps them in the state's settings unless dry_run. */
gboolean ferry_resources_launch_options (FerryInvocation *inv, FerryLaunchOptions *opts,
                                         const char *type, gint64 volume_gb, gint64 max_hours,
                                         gboolean spot, const char *ami, GError **error);
/* The `ferry ssh` line for this deployment (with --state-dir/--name when not the defaults). */
char *ferry_resources_ssh_hint (FerryInvocation *inv);

/* start, stop and terminate: parses argv (no arguments), opens the state locked, settles the region,
 * and returns the deployment's instance id (an error if it has none). */
char *ferry_builtin_instance_open (GOptionContext *context, const GOptionEntry *entries, int *argc,
                                   char ***argv, FerryInvocation *inv, FerryBuiltinFlags flags,
                                   GCancellable *cancellable, GError **error);

/* push and run send only what lies under the workflow directory: says which needed inputs are not
 * sent (the remote must have them at the same path, as on a shared file system). */
void ferry_plan_note_outside (char **outside);

/* The remote of push, pull, run, attach and cancel: --host HOST, else the state's instance, with the
 * invocation's ssh settings and logging; *out_dir is --remote-dir, else ~/ferry/NAME. The state must
 * be open. */
FerryRemote *ferry_builtin_remote (FerryInvocation *inv, const char *host, const char *remote_dir,
                                   char **out_dir, GError **error);

/* attach and cancel: the run RUN (the newest when id is NULL) on --host or the instance, with its
 * remote (*out_remote) and dir; a malformed id is a usage error. */
FerryRun *ferry_builtin_run_find (FerryInvocation *inv, GOptionContext *context, const char *host,
                                  const char *remote_dir, const char *id, FerryRemote **out_remote,
                                  char **out_dir, GCancellable *c, GError **error);

/* --via ssh (the default) or s3 (through the deployment's bucket) for push and run. */
gboolean ferry_builtin_remote_via (FerryInvocation *inv, GOptionContext *context,
                                   FerryRemote *remote, const char *via, GError **error);

/* --- plan and bootstrap --for (builtin-plan.c) --- */
typedef struct _FerryQuote FerryQuote;
typedef struct _FerryQuoteOptions FerryQuoteOptions;
/* The quote for TARGETS: snakemake's plan (the jobs the remote would run), its needs, and the
 * region's types and prices (types kept a day in the state dir when it exists). */
FerryQuote *ferry_plan_quote (FerryInvocation *inv, const char *const *targets,
                              const char *const *extra, const FerryQuoteOptions *opts,
                              GCancellable *c, GError **error);
/* The one line bootstrap --for prints before it launches. */
char *ferry_plan_launch_line (const FerryQuote *q);
/* --arch is x86_64 or arm64 (usage error otherwise). */
gboolean ferry_plan_options_check (GOptionContext *context, const char *arch, GError **error);
/* The lifetime cap: the command line's, else the state's, else the default. */
gint64 ferry_plan_max_hours (FerryInvocation *inv, gint64 cli);
/* status and ls: an instance's uptime and cost so far (running), and its gp3 volume's price a
 * month, "unknown" where AWS does not tell; *out_json (unless NULL) gets the numbers. */
typedef struct _FerryPriceBook FerryPriceBook;
/* The first line of a reason, kept short for a table's note. */
char *ferry_plan_short_reason (const char *text);
char *ferry_plan_cost_line (FerryPriceBook *book, const char *type, gboolean spot,
                            const char *zone, GDateTime *launched, const char *state,
                            gint64 volume_gb, json_t **out_json, GCancellable *c);
/* check --host HOST / --instance (builtin-check-remote.c): the remote's snakemake, SLURM, disk and
 * login shell, one line each; with slurm, SLURM is essential. */
gboolean ferry_check_remote (FerryInvocation *inv, const char *host, const char *remote_dir,
                             gboolean slurm, GCancellable *c, GError **error);

/* run --slurm (builtin-run-slurm.c): the option group, its usage checks, and the snakemake argv
 * (`snakemake --cores N ...`) with the flags the remote's snakemake needs put after --cores N. With
 * dry_run, nothing is asked of the remote. */
GOptionGroup *ferry_run_slurm_group (void);
gboolean ferry_run_slurm_enabled (void);
gboolean ferry_run_slurm_check (GOptionContext *context, GError **error);
/* Starts asking the remote (in a thread) while the local DAG is computed; the argv call waits. */
void ferry_run_slurm_probe_start (FerryRemote *remote, GCancellable *c);
/* Waits for that thread and drops its answer (the run failed before it needed it). */
void ferry_run_slurm_probe_finish (void);
/* A run whose recorded argv submits to SLURM: while it is followed, its SLURM jobs (pending,
 * running, done) are a status line when they change (the follow's status hook), and once more at
 * the end (follow_end). */
void ferry_run_slurm_follow (FerryRemote *remote, const char *dir, FerryRun *run, FerryFollow *follow);
void ferry_run_slurm_follow_end (FerryRun *run, GCancellable *c);
/* status: each running --slurm run gets its counts (record member "slurm_queue"), and the line. */
void ferry_run_slurm_annotate (FerryRemote *remote, const char *dir, GPtrArray *runs, GCancellable *c);
char *ferry_run_slurm_status_line (FerryRun *run);
/* cancel: no job of a --slurm run stays in the queue (scancel what is left). */
gboolean ferry_run_slurm_cancel (FerryRemote *remote, const char *dir, FerryRun *run, GCancellable *c,
                                 GError **error);
/* After a failed --slurm run: SLURM's own refusal (sbatch's error) from the local log, on stderr. */
void ferry_run_slurm_explain (const char *local_log);
GStrv ferry_run_slurm_argv (FerryRemote *remote, const char *const *sm_argv, gboolean dry_run,
                            GCancellable *c, GError **error);
/* --- remote runs (builtin-run.c), shared by run, attach and cancel --- */

/* Seconds, or a number with s, m or h ("15m"). */
gboolean ferry_parse_duration (const char *text, guint *out_seconds);
/* The command line that reaches run `id` again: "ferry VERB ID [--state-dir..] [--host H] [--remote-dir D]". */
char *ferry_run_hint (FerryInvocation *inv, const char *verb, const char *id, const char *host,
                      const char *remote_dir);
/* Follows `run` (follow: offset or tail_lines, reconnect timeout, and any status_line hook) to its
 * end with the log on stdout and in STATE-DIR/logs/run-ID.log, then pulls `outputs` (NULL: those of
 * the record's targets) unless no_pull or the record says not to, applies the record's --then, and
 * sets inv->exit_status to snakemake's. A signal detaches: the message says how to attach or cancel,
 * and the status is 128+signal. A cancelled or lost run is an error. */
gboolean ferry_run_follow_to_end (FerryInvocation *inv, FerryRemote *remote, const char *host_opt,
                                  const char *dir_opt, const char *dir, FerryRun *run,
                                  FerryFollow *follow, char **outputs, gboolean no_pull,
                                  GCancellable *c, GError **error);

/* The deployment's store (builtin-store.c): the state's bucket; no bucket is a usage error saying
 * how to make one. Settles the region first. The state must be open. */
FerryStore *ferry_builtin_store_open (FerryInvocation *inv, GCancellable *c, GError **error);
/* run --save (and before --then terminate): the remote stores `outputs` of run `run_id` in the
 * store with its own aws, and the manifest's key is said on stderr. */
gboolean ferry_store_save_outputs (FerryInvocation *inv, FerryRemote *remote, const char *dir,
                                   const char *run_id, char **outputs, GCancellable *c,
                                   GError **error);
/* pull: whether the outputs come from the store (no --host, a bucket, and no running instance). */
gboolean ferry_store_pull_wanted (FerryInvocation *inv, const char *host);
/* ls, status: what the deployment's store holds and its monthly cost at the region's S3 Standard
 * price ("unknown" when the Pricing API does not tell); NULL without a bucket. *out_json (unless
 * NULL) gets the numbers. Needs inv->aws ready. */
char *ferry_store_summary (FerryInvocation *inv, json_t **out_json, GCancellable *c);
/* pull from the store: the newest saved manifest holding every output, pulled securely. */
gboolean ferry_store_pull_outputs (FerryInvocation *inv, char **outputs, GCancellable *c,
                                   GError **error);

/* --- run --then carried out by the instance (builtin-run-unattended.c) --- */

/* The run record's on_end for `then`: the instance's agent carries out --then stop when the
 * instance has a role, and --then terminate when it has a bucket too (the agent saves the outputs
 * there first); otherwise the laptop does once it has pulled, which one line on stderr says. json
 * null for keep. */
json_t *ferry_run_on_end (FerryInvocation *inv, const char *then, const char *notify, GCancellable *c,
                          GError **error);
/* After the pull: a run whose --then is its agent's is let go on (the hold removed), and the
 * instance is seen to stop itself (*out_done). FALSE *out_done: the laptop carries --then out
 * (no agent, one that acted already or is gone, an instance that did not stop). */
gboolean ferry_run_then_by_instance (FerryInvocation *inv, FerryRemote *remote, const char *dir,
                                     FerryRun *run, gboolean *out_done, GCancellable *c, GError **error);
/* A run record's (or a saved manifest's) string array (targets, snakemake_args) as a GStrv. */
GStrv ferry_run_record_strv (json_t *record, const char *key);
/* ferry run of TARGETS again, as attach does to recover an interrupted run (builtin-run.c). */
gboolean ferry_run_again (FerryInvocation *inv, const char *const *targets, const char *cores, const char *then,
                          const char *notify, char **extra, const char *remote_dir, GCancellable *c, GError **error);
/* The newest save in the store by a run (`run_id`, or of `targets` when NULL) that its agent made
 * on a spot interruption notice (its list entry: "key", "run", "interruptions", "targets",
 * "cores", "then", "snakemake_args"), or NULL, with no error, when that run was not interrupted. */
json_t *ferry_run_find_interrupted (FerryInvocation *inv, const char *run_id, const char *const *targets,
                                    GCancellable *c, GError **error);
/* Before a run of `targets` on the instance: when it is gone and the target's last run was
 * interrupted, says so and launches a replacement (spot unless !spot), or refuses past
 * max_interruptions; *out_interrupted gets the interrupted save (NULL when there is none). */
gboolean ferry_run_recover_start (FerryInvocation *inv, const char *const *targets, int max_interruptions,
                                  gboolean spot, json_t **out_interrupted, GCancellable *c, GError **error);
/* Every save a run's agent made on a spot notice, oldest first (ferry_store_list's entries; empty
 * when the store cannot be read). */
json_t *ferry_run_interruptions (FerryInvocation *inv, GCancellable *c);
/* On the replacement: the outputs the interrupted run finished come back from the store. */
gboolean ferry_run_recover_restore (FerryInvocation *inv, FerryRemote *remote, const char *dir,
                                    json_t *interrupted, GCancellable *c, GError **error);
/* Describes the instance and records its state (stopped or terminated by its run's agent while
 * nobody watched; "gone" when AWS no longer knows it), handing the description on when asked.
 * Nothing to do (TRUE, no description) with a --host, a dry run, or no instance. */
gboolean ferry_run_refresh_instance (FerryInvocation *inv, const char *host, json_t **out_instance,
                                     GCancellable *c, GError **error);
/* Whether the recorded instance is terminated or gone: its outputs can only come from the store. */
gboolean ferry_run_instance_gone (FerryInvocation *inv, const char *host);
/* attach and pull on the instance: a stopped instance (its run's --then stop, say) is started, after
 * a line saying so, and waited for until it takes SSH; ferry_run_sleep_instance stops it again. A
 * terminated one is recorded so (ferry_run_instance_gone). */
gboolean ferry_run_wake_instance (FerryInvocation *inv, const char *host, GCancellable *c, GError **error);
/* attach when the instance is gone: the outputs that run `run_id` (NULL: the newest run) saved in
 * the store before its instance went come home; the exit status is the run's. */
gboolean ferry_run_attach_from_store (FerryInvocation *inv, const char *run_id, GCancellable *c, GError **error);
gboolean ferry_run_instance_woken (void);
gboolean ferry_run_sleep_instance (FerryInvocation *inv, GCancellable *c, GError **error);
/* "run ID ended at TIME (exit N); its --then stop" from a described instance's tag (its agent's
 * story), or NULL. */
char *ferry_run_instance_story (json_t *instance);
/* A field of the agent's story: "saved" (the store manifest where the outputs went before the
 * instance did), "interrupted" (the how-manieth spot interruption), or NULL. */
char *ferry_run_instance_tag_field (json_t *instance, const char *key);

#define FERRY_BUILTIN(verb)                                                                         \
  gboolean ferry_builtin_##verb (int argc, char **argv, FerryInvocation *inv, GCancellable *c,      \
                                 GError **error)

FERRY_BUILTIN (bootstrap);
FERRY_BUILTIN (keypair);
FERRY_BUILTIN (network);
FERRY_BUILTIN (firewall);
FERRY_BUILTIN (bucket);
FERRY_BUILTIN (role);
FERRY_BUILTIN (launch);
FERRY_BUILTIN (status);
FERRY_BUILTIN (stop);
FERRY_BUILTIN (start);
FERRY_BUILTIN (terminate);
FERRY_BUILTIN (teardown);
FERRY_BUILTIN (ls);
FERRY_BUILTIN (check);
FERRY_BUILTIN (ssh);
FERRY_BUILTIN (export);
FERRY_BUILTIN (archive);
FERRY_BUILTIN (push);
FERRY_BUILTIN (pull);
FERRY_BUILTIN (run);
FERRY_BUILTIN (plan);
FERRY_BUILTIN (attach);
FERRY_BUILTIN (cancel);
FERRY_BUILTIN (store);

G_END_DECLS
