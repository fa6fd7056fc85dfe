/* ferry's entry point: the subcommand table, the shared options, and the one place an error is printed. */
#include "build-config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <glib-unix.h>

#include "core/config.h"
#include "core/spawn.h"
#include "ferry-builtins.h"

typedef struct
{
  const char *name;
  FerryBuiltinFlags flags;
  gboolean (*fn) (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error);
  const char *description;
} FerryCommand;

static const FerryCommand commands[] = {
  { "bootstrap", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_bootstrap, "Create everything and launch an instance (idempotent)" },
  { "keypair", 0, ferry_builtin_keypair, "Generate the SSH key locally and import it as an EC2 key pair" },
  { "network", 0, ferry_builtin_network, "Adopt (or create) the default VPC and pick a subnet" },
  { "firewall", 0, ferry_builtin_firewall, "Create the security group allowing SSH from one address" },
  { "bucket", 0, ferry_builtin_bucket, "Create a private S3 bucket" },
  { "role", 0, ferry_builtin_role, "Create the IAM role and instance profile scoped to the bucket" },
  { "launch", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_launch, "Launch the instance and wait for SSH" },
  { "status", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_status, "Show the deployment and the live instance state" },
  { "stop", 0, ferry_builtin_stop, "Stop the instance (the volume still bills)" },
  { "start", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_start, "Start a stopped instance" },
  { "terminate", 0, ferry_builtin_terminate, "Terminate the instance" },
  { "teardown", 0, ferry_builtin_teardown, "Delete everything ferry created" },
  { "ls", 0, ferry_builtin_ls, "List resources tagged by ferry (am I paying for anything?)" },
  { "check", 0, ferry_builtin_check, "Check aws, credentials, snakemake and ssh" },
  { "ssh", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_ssh, "Open a shell on the instance, or run one command" },
  { "export", 0, ferry_builtin_export, "Archive the existing input files a target needs" },
  { "archive", 0, ferry_builtin_archive, "Archive the workflow files (snakemake --archive)" },
  { "push", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_push, "Send the workflow and a target's inputs to the remote" },
  { "pull", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_pull, "Bring a target's outputs back from the remote" },
  { "run", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_run, "Push, run snakemake remotely, and pull the outputs" },
  { "plan", 0, ferry_builtin_plan, "What a target needs, and the cheapest instance types that fit" },
  { "attach", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_attach, "Follow a run on the remote again; pull when it has ended" },
  { "cancel", FERRY_BUILTIN_FLAG_CONNECT, ferry_builtin_cancel, "Stop a run on the remote" },
  { "store", 0, ferry_builtin_store, "What the store in the bucket holds: ls, pull a manifest, prune" },
  { NULL },
};

static gboolean opt_dry_run;
static gboolean opt_yes;
static gboolean opt_verbose;
static char *opt_endpoint_url;
static char *opt_region;
static char *opt_profile;
static char *opt_state_dir;
static char *opt_name;
static char *opt_ssh_user;
static char **opt_ssh_options;

static const GOptionEntry shared_entries[] = {
  { "endpoint-url", 0, 0, G_OPTION_ARG_STRING, &opt_endpoint_url, "AWS endpoint (a local emulator, say)", "URL" },
  { "region", 0, 0, G_OPTION_ARG_STRING, &opt_region, "AWS region", "REGION" },
  { "profile", 0, 0, G_OPTION_ARG_STRING, &opt_profile, "AWS CLI profile", "PROFILE" },
  { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_dir, "Where state and key live (default .ferry)", "DIR" },
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "Deployment name, prefix and tag of everything created (default ferry)", "NAME" },
  { "dry-run", 0, 0, G_OPTION_ARG_NONE, &opt_dry_run, "Show the commands that would change anything; change nothing", NULL },
  { "yes", 0, 0, G_OPTION_ARG_NONE, &opt_yes, "Do not ask for confirmation", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Show every command run", NULL },
  { NULL }
};

static char help_all_flag[] = "--help-all";

static const GOptionEntry connect_entries[] = {
  { "ssh-user", 0, 0, G_OPTION_ARG_STRING, &opt_ssh_user, "User to log in as (default ec2-user)", "USER" },
  { "ssh-option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_ssh_options, "Passed to ssh as -o OPT (repeatable)", "OPT" },
  { NULL }
};

void
ferry_print_log (const char *message, gpointer user_data)
{
  FerryInvocation *inv = user_data;

  if (inv != NULL && inv->dry_run)
    g_print ("%s\n", message);
  else
    g_printerr ("%s\n", message);
}

gboolean
ferry_usage_error (GOptionContext *context, GError **error, const char *fmt, ...)
{
  va_list args;

  if (error == NULL)
    return FALSE;
  va_start (args, fmt);
  *error = g_error_new_valist (FERRY_ERROR, FERRY_ERROR_USAGE, fmt, args);
  va_end (args);
  return FALSE;
}

char **
ferry_split_double_dash (int *argc, char **argv)
{
  for (int i = 1; i < *argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        argv[i] = NULL;
        *argc = i;
        return argv + i + 1;
      }
  return NULL;
}

gboolean
ferry_confirm (FerryInvocation *inv, const char *prompt)
{
  char answer[16] = "";

  if (inv->yes || !isatty (STDIN_FILENO))
    return TRUE;
  g_printerr ("%s [y/N] ", prompt);
  if (fgets (answer, sizeof answer, stdin) == NULL)
    return FALSE;
  return answer[0] == 'y' || answer[0] == 'Y';
}

gboolean
ferry_option_context_parse (GOptionContext *context, const GOptionEntry *entries, int *argc,
                            char ***argv, FerryInvocation *inv, FerryBuiltinFlags flags,
                            GCancellable *cancellable, GError **error)
{
  FerryConfigLayers *layers = &inv->layers;
  FerryConfig *cli = &layers->layer[FERRY_LAYER_CLI];
  FerryConfig *defaults = &layers->layer[FERRY_LAYER_DEFAULT];
  g_auto(FerryConfig) resolved = { 0 };
  GOptionGroup *group;

  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  group = g_option_group_new ("shared", "Options every subcommand takes:", "Show the shared options",
                              NULL, NULL);
  g_option_group_add_entries (group, shared_entries);
  g_option_context_add_group (context, group);
  if (flags & FERRY_BUILTIN_FLAG_CONNECT)
    {
      group = g_option_group_new ("ssh", "Connection options:", "Show the connection options", NULL,
                                  NULL);
      g_option_group_add_entries (group, connect_entries);
      g_option_context_add_group (context, group);
    }

  /* A command's --help lists every option it takes, the shared and connection ones included, as
     --help-all does: GOption's own --help would show only the command's group, and `ferry run --help |
     grep state-dir` would find nothing. */
  for (int i = 1; i < *argc && (*argv)[i] != NULL && !g_str_equal ((*argv)[i], "--"); i++)
    if (g_str_equal ((*argv)[i], "--help") || g_str_equal ((*argv)[i], "-h"))
      (*argv)[i] = help_all_flag;

  if (!g_option_context_parse (context, argc, argv, error))
    {
      g_autoptr(GError) parse_error = g_steal_pointer (error);
      return ferry_usage_error (context, error, "%s (see ferry %s --help)", parse_error->message,
                                inv->verb);
    }

  cli->endpoint_url = g_steal_pointer (&opt_endpoint_url);
  cli->region = g_steal_pointer (&opt_region);
  cli->profile = g_steal_pointer (&opt_profile);
  cli->state_dir = g_steal_pointer (&opt_state_dir);
  cli->name = g_steal_pointer (&opt_name);
  cli->ssh_user = g_steal_pointer (&opt_ssh_user);
  cli->ssh_options = g_steal_pointer (&opt_ssh_options);
  ferry_config_layers_fill_env (layers);
  if (!ferry_config_layers_fill_files (layers, error))
    return FALSE;
  defaults->state_dir = g_strdup (".ferry");
  defaults->name = g_strdup ("ferry");

  /* The state dir first (the state cannot name itself), then what the state kept. */
  ferry_config_resolve (layers, &resolved, inv->origins);
  ferry_state_peek_settings (resolved.state_dir, &layers->layer[FERRY_LAYER_STATE]);
  /* Another deployment's state (a name was given) lends nothing; opening it says so. */
  if (inv->origins[FERRY_SETTING_NAME] != FERRY_LAYER_DEFAULT
      && g_strcmp0 (layers->layer[FERRY_LAYER_STATE].name, resolved.name) != 0)
    ferry_config_clear (&layers->layer[FERRY_LAYER_STATE]);
  ferry_config_resolve (layers, &resolved, inv->origins);

  inv->dry_run = opt_dry_run;
  inv->yes = opt_yes;
  inv->verbose = opt_verbose;
  inv->endpoint_url = g_steal_pointer (&resolved.endpoint_url);
  inv->region = g_steal_pointer (&resolved.region);
  inv->profile = g_steal_pointer (&resolved.profile);
  inv->state_dir = g_steal_pointer (&resolved.state_dir);
  inv->name = g_steal_pointer (&resolved.name);
  inv->ssh_user = g_steal_pointer (&resolved.ssh_user);
  inv->ssh_options = g_steal_pointer (&resolved.ssh_options);
  if (!g_regex_match_simple ("^[A-Za-z0-9][A-Za-z0-9-]{0,31}$", inv->name, 0, 0))
    return ferry_usage_error (context, error,
                              "invalid --name \"%s\": use 1 to 32 letters, digits and dashes, starting with a letter or digit",
                              inv->name);
  if (inv->ssh_user != NULL && !ferry_config_valid_user_name (inv->ssh_user))
    return ferry_usage_error (context, error,
                              "invalid --ssh-user \"%s\": a user name is 1 to 32 letters, digits, dots, underscores and dashes, not starting with a dash",
                              inv->ssh_user);

  inv->state = ferry_state_new (inv->state_dir, inv->name);
  /* The region is settled when AWS is first needed (ferry_invocation_use_aws): --host needs none. */
  inv->aws = ferry_aws_new (inv->endpoint_url, NULL, inv->profile);
  inv->aws->dry_run = inv->dry_run;
  inv->aws->verbose = inv->verbose;
  inv->aws->log = ferry_print_log;
  inv->aws->log_data = inv;
  return TRUE;
}

gboolean
ferry_invocation_open_state (FerryInvocation *inv, gboolean create, gboolean lock, GError **error)
{
  return ferry_state_open (inv->state, create, lock, error);
}

char *
ferry_invocation_profile_region (FerryInvocation *inv, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autofree char *out = NULL;
  int status = 0;
  gboolean sure = FALSE;

  /* The config file read directly saves an aws start-up (half a CPU-second) on every command. */
  out = ferry_config_aws_profile_region (inv->profile, &sure);
  if (sure)
    return g_steal_pointer (&out);
  g_strv_builder_add_many (b, "aws", "configure", "get", "region", NULL);
  if (inv->profile != NULL)
    g_strv_builder_add_many (b, "--profile", inv->profile, NULL);
  argv = g_strv_builder_end (b);
  /* An unknown profile is no region here; the credentials check says what is wrong with it. */
  if (!ferry_spawn_capture ((const char *const *) argv, ferry_aws_env (), NULL, &out, NULL, &status,
                            cancellable, error)
      || status != 0 || *g_strstrip (out) == '\0')
    return NULL;
  if (!ferry_config_valid_region (out))
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                         "`aws configure get region` printed something that is not a region name; is `aws` the AWS CLI?"),
            NULL);
  return g_steal_pointer (&out);
}

gboolean
ferry_invocation_settle_region (FerryInvocation *inv, GCancellable *cancellable, GError **error)
{
  FerryConfigLayers *layers = &inv->layers;
  const char *kept = layers->layer[FERRY_LAYER_STATE].region;
  g_auto(FerryConfig) resolved = { 0 };
  FerryLayer from;

  from = inv->origins[FERRY_SETTING_REGION];
  if ((from == FERRY_LAYER_STATE || from == FERRY_N_LAYERS)
      && layers->layer[FERRY_LAYER_AWS_PROFILE].region == NULL)
    {
      /* Nothing above the profile named one: ask the AWS CLI, as `aws` itself would decide. */
      g_autoptr(GError) local_error = NULL;
      layers->layer[FERRY_LAYER_AWS_PROFILE].region
          = ferry_invocation_profile_region (inv, cancellable, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      ferry_config_resolve (layers, &resolved, inv->origins);
      g_free (inv->region);
      inv->region = g_steal_pointer (&resolved.region);
    }
  from = inv->origins[FERRY_SETTING_REGION];
  if (inv->region != NULL && !ferry_config_valid_region (inv->region))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid region \"%s\" (from %s): a region looks like eu-central-1",
                        inv->region, ferry_config_layer_describe (layers, from, FERRY_SETTING_REGION));
  if (inv->region == NULL)
    return ferry_throw (error, FERRY_ERROR_CONFIG, "no AWS region: run aws configure or pass --region");
  if (kept != NULL && !g_str_equal (kept, inv->region))
    return ferry_throw (error, FERRY_ERROR_CONFIG,
                        "the deployment %s in %s is in region %s, but the region here is %s (from %s); pass --region %s, or another --state-dir for a deployment in %s",
                        inv->name, inv->state_dir, kept, inv->region,
                        ferry_config_layer_describe (layers, from, FERRY_SETTING_REGION), kept,
                        inv->region);
  return TRUE;
}

gboolean
ferry_invocation_use_aws (FerryInvocation *inv, GCancellable *cancellable, GError **error)
{
  if (inv->aws->region != NULL)
    return TRUE;
  if (!ferry_invocation_settle_region (inv, cancellable, error))
    return FALSE;
  inv->aws->region = g_strdup (inv->region);
  return TRUE;
}

static void
invocation_clear (FerryInvocation *inv)
{
  g_free (inv->endpoint_url);
  g_free (inv->region);
  g_free (inv->profile);
  g_free (inv->state_dir);
  g_free (inv->name);
  g_free (inv->ssh_user);
  g_strfreev (inv->ssh_options);
  ferry_config_layers_clear (&inv->layers);
  ferry_aws_free (inv->aws);
  ferry_state_free (inv->state);
}

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: ferry COMMAND [OPTION...]\n\n"
                "Run a Snakemake target on a rented EC2 instance or an HPC node, and bring the results back.\n\n"
                "Commands:\n");
  for (const FerryCommand *cmd = commands; cmd->name != NULL; cmd++)
    fprintf (out, "  %-11s %s\n", cmd->name, cmd->description);
  fprintf (out, "\nRun `ferry COMMAND --help` for a command's options. Options go after the command.\n");
}

static const FerryCommand *
closest_command (const char *verb)
{
  const FerryCommand *best = NULL;
  guint best_distance = G_MAXUINT;

  for (const FerryCommand *cmd = commands; cmd->name != NULL; cmd++)
    {
      guint d = 0;
      gsize la = strlen (verb), lb = strlen (cmd->name);
      g_autofree guint *row = g_new (guint, lb + 1);

      /* Levenshtein distance, one row at a time. */
      for (gsize j = 0; j <= lb; j++)
        row[j] = j;
      for (gsize i = 1; i <= la; i++)
        {
          guint diag = row[0];
          row[0] = i;
          for (gsize j = 1; j <= lb; j++)
            {
              guint up = row[j];
              row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1),
                            diag + (verb[i - 1] == cmd->name[j - 1] ? 0 : 1));
              diag = up;
            }
        }
      d = row[lb];
      if (d < best_distance || (g_str_has_prefix (cmd->name, verb) && best_distance > 0))
        {
          best_distance = g_str_has_prefix (cmd->name, verb) ? 0 : d;
          best = cmd;
        }
    }
  return best_distance <= 2 ? best : NULL;
}

/* Stopping has one path: SIGINT, SIGTERM and SIGHUP cancel the invocation's cancellable, which every
 * wait and poll honours. The signal sources live on a context of their own, iterated by a thread of
 * their own, so a signal is seen even while the main thread is blocked in a wait. */
typedef struct
{
  GMainContext *context;
  GThread *thread;
  GCancellable *cancellable;
  FerryInvocation *inv;
  gint quit;
} SignalWatch;

static SignalWatch signal_watch;

const char *
ferry_signal_name (int signum)
{
  switch (signum)
    {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
    }
}

static gboolean
on_signal (gpointer user_data)
{
  int signum = GPOINTER_TO_INT (user_data);

  if (g_atomic_int_compare_and_exchange (&signal_watch.inv->signal, 0, signum))
    g_cancellable_cancel (signal_watch.cancellable);
  return G_SOURCE_CONTINUE;
}

static gpointer
signal_thread (gpointer user_data)
{
  g_main_context_push_thread_default (signal_watch.context);
  while (!g_atomic_int_get (&signal_watch.quit))
    g_main_context_iteration (signal_watch.context, TRUE);
  g_main_context_pop_thread_default (signal_watch.context);
  return NULL;
}

static void
signals_start (FerryInvocation *inv, GCancellable *cancellable)
{
  static const int signums[] = { SIGINT, SIGTERM, SIGHUP };

  /* A closed pipe is an error from write(), reported with the peer's stderr, not a silent death. */
  signal (SIGPIPE, SIG_IGN);
  signal_watch.context = g_main_context_new ();
  signal_watch.cancellable = cancellable;
  signal_watch.inv = inv;
  for (guint i = 0; i < G_N_ELEMENTS (signums); i++)
    {
      g_autoptr(GSource) source = g_unix_signal_source_new (signums[i]);
      g_source_set_callback (source, on_signal, GINT_TO_POINTER (signums[i]), NULL);
      g_source_attach (source, signal_watch.context);
    }
  signal_watch.thread = g_thread_new ("ferry-signals", signal_thread, NULL);
}

static void
signals_stop (void)
{
  g_atomic_int_set (&signal_watch.quit, 1);
  g_main_context_wakeup (signal_watch.context);
  g_thread_join (signal_watch.thread);
  g_main_context_unref (signal_watch.context);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  FerryInvocation inv = { 0 };
  const FerryCommand *cmd;
  const char *verb;
  int status;

  setlocale (LC_ALL, "");
  g_set_prgname ("ferry");

  if (argc < 2)
    {
      print_usage (stderr);
      return 2;
    }
  verb = argv[1];
  /* `ferry help COMMAND` is `ferry COMMAND --help`. */
  if (g_str_equal (verb, "help") && argc > 2 && !g_str_equal (argv[2], "help"))
    {
      static char help_flag[] = "--help";
      verb = argv[1] = argv[2];
      argv[2] = help_flag;
      argc = 3;
    }
  if (g_str_equal (verb, "--help") || g_str_equal (verb, "-h") || g_str_equal (verb, "help"))
    {
      print_usage (stdout);
      return 0;
    }
  if (g_str_equal (verb, "--version"))
    {
      g_print ("ferry %s\n", PACKAGE_VERSION);
      return 0;
    }

  for (cmd = commands; cmd->name != NULL; cmd++)
    if (g_str_equal (cmd->name, verb))
      break;
  if (cmd->name == NULL)
    {
      const FerryCommand *near = closest_command (verb);
      if (near != NULL)
        g_printerr ("error: unknown command \"%s\"; did you mean \"%s\"? (see ferry --help)\n", verb,
                    near->name);
      else
        g_printerr ("error: unknown command \"%s\" (see ferry --help)\n", verb);
      return 2;
    }

  inv.verb = cmd->name;
  /* The builtin sees argv as if it were its own program: argv[0] is "ferry VERB". */
  {
    g_autofree char *prgname = g_strdup_printf ("ferry %s", cmd->name);
    argv[1] = prgname;
    g_set_prgname (prgname);
    signals_start (&inv, cancellable);
    if (cmd->fn (argc - 1, argv + 1, &inv, cancellable, &error))
      status = inv.exit_status;
    else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && inv.signal != 0)
      {
        /* Children were stopped and reaped on the way out; the status is the shell's convention. */
        g_printerr ("error: %s interrupted by %s\n", cmd->name, ferry_signal_name (inv.signal));
        status = 128 + inv.signal;
      }
    else
      {
        g_assert (error != NULL);
        g_printerr ("error: %s\n", error->message);
        status = (g_error_matches (error, FERRY_ERROR, FERRY_ERROR_USAGE)) ? 2 : 1;
      }
    signals_stop ();
    argv[1] = (char *) verb;
  }
  invocation_clear (&inv);
  return status;
}
