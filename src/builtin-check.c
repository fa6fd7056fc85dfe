/* ferry check: is everything ferry needs on this machine, and do the AWS credentials work? */
#include <sys/stat.h>

#include <stdlib.h>

#include "ferry-builtins.h"
#include "core/spawn.h"
#include "core/pool.h"
#include "core/snakemake.h"

typedef enum
{
  CHECK_OK,
  CHECK_WARN,
  CHECK_FAIL,
} CheckStatus;

typedef struct
{
  const char *what;
  CheckStatus status;
  char *text;
  const char *fix; /* what to do, for a failure */
} Check;

static void check_set (Check *check, CheckStatus status, const char *fix, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static void
check_set (Check *check, CheckStatus status, const char *fix, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_free (check->text);
  check->text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  check->status = status;
  check->fix = fix;
}

/* The first line a program prints about its version (stdout or stderr). */
static char *
version_line (const char *const *argv, GError **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;

  if (!ferry_spawn_capture (argv, NULL, NULL, &out, &err, &status, NULL, error))
    return NULL;
  if (!ferry_spawn_status_check (argv, status, err, error))
    return NULL;
  lines = g_strsplit (g_strstrip (*out ? out : err), "\n", 2);
  return g_strdup (lines[0] ? g_strstrip (lines[0]) : "");
}

typedef struct
{
  FerryInvocation *inv;
  Check aws;
  Check region;
  Check credentials;
  Check snakemake;
  Check ssh;
} Checks;

static gboolean
check_aws (gpointer data, GCancellable *cancellable, GError **error)
{
  Checks *checks = data;
  const char *argv[] = { "aws", "--version", NULL };
  g_autoptr(GError) local_error = NULL;
  g_autofree char *line = version_line (argv, &local_error);
  const char *fix = "install the AWS CLI (v2 from AWS's installer, or `apt install awscli` for v1)";

  if (line == NULL)
    check_set (&checks->aws, CHECK_FAIL, fix, "%s", local_error->message);
  else if (g_str_has_prefix (line, "aws-cli/1."))
    check_set (&checks->aws, CHECK_OK, NULL, "%s (v1)", line);
  else if (g_str_has_prefix (line, "aws-cli/2."))
    check_set (&checks->aws, CHECK_OK, NULL, "%s (v2)", line);
  else
    check_set (&checks->aws, CHECK_FAIL, fix,
               "`aws --version` printed \"%s\": is `aws` the AWS CLI?", line);
  return TRUE;
}

static gboolean
check_credentials (gpointer data, GCancellable *cancellable, GError **error)
{
  Checks *checks = data;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) who
      = ferry_aws_call (checks->inv->aws, "sts", "get-caller-identity", NULL, NULL, &local_error);
  const char *fix = "run `aws configure` (or pass --profile, or set AWS_PROFILE)";

  if (who == NULL)
    {
      /* aws.c's advice is to run this very check: keep only what aws said. */
      const char *msg = local_error->message;
      const char *said = strstr (msg, "(run `ferry check`): ");
      check_set (&checks->credentials, CHECK_FAIL, fix, "%s",
                 said ? said + strlen ("(run `ferry check`): ") : msg);
    }
  else if (!json_is_string (json_object_get (who, "Arn")))
    check_set (&checks->credentials, CHECK_FAIL, fix, "sts get-caller-identity named no identity");
  else
    check_set (&checks->credentials, CHECK_OK, NULL, "%s (account %s)",
               json_string_value (json_object_get (who, "Arn")),
               json_string_value (json_object_get (who, "Account")) ?: "?");
  return TRUE;
}

static gboolean
check_region (gpointer data, GCancellable *cancellable, GError **error)
{
  Checks *checks = data;
  FerryInvocation *inv = checks->inv;
  g_autoptr(GError) local_error = NULL;

  if (!ferry_invocation_settle_region (inv, NULL, &local_error))
    check_set (&checks->region, CHECK_FAIL,
               "pass --region, or run `aws configure set region REGION`", "%s",
               local_error->message);
  else
    check_set (&checks->region, CHECK_OK, NULL, "%s (from %s)", inv->region,
               ferry_config_layer_describe (&inv->layers, inv->origins[FERRY_SETTING_REGION],
                                            FERRY_SETTING_REGION));
  return TRUE;
}

static gboolean
check_snakemake (gpointer data, GCancellable *cancellable, GError **error)
{
  Checks *checks = data;
  const char *argv[] = { "snakemake", "--version", NULL };
  g_autoptr(GError) local_error = NULL;
  g_autofree char *line = version_line (argv, &local_error);

  int major = 0, minor = 0;
  const char *reader;

  if (line == NULL)
    {
      check_set (&checks->snakemake, CHECK_FAIL,
                 "install snakemake (`apt install snakemake`, or conda/mamba)", "%s",
                 local_error->message);
      return TRUE;
    }
  if (!ferry_snakemake_parse_version (line, &major, &minor))
    {
      check_set (&checks->snakemake, CHECK_FAIL,
                 "is `snakemake` on your PATH snakemake? (`command -v snakemake`)",
                 "`snakemake --version` printed \"%s\", not a version", line);
      return TRUE;
    }
  reader = major >= 9 ? "jobs read through ferry's logger plugin, --logger ferry"
                      : "jobs read through --log-handler-script";
  switch (ferry_snakemake_support (major, minor))
    {
    case FERRY_SNAKEMAKE_SUPPORTED:
      check_set (&checks->snakemake, CHECK_OK, NULL, "%s (supported; %s)", line, reader);
      break;
    case FERRY_SNAKEMAKE_TOO_OLD:
      check_set (&checks->snakemake, CHECK_WARN,
                 "upgrade snakemake to 7.19 or later (conda/mamba, or a venv)",
                 "%s (older than ferry knows, 7.19 to %d.x; %s)", line,
                 FERRY_SNAKEMAKE_NEWEST_MAJOR, reader);
      break;
    case FERRY_SNAKEMAKE_UNKNOWN:
      check_set (&checks->snakemake, CHECK_WARN,
                 "if a command fails, use a snakemake ferry knows (7.19 to 9.x) in a venv or conda env",
                 "%s (newer than ferry knows, 7.19 to %d.x: used as %d; %s)", line,
                 FERRY_SNAKEMAKE_NEWEST_MAJOR, FERRY_SNAKEMAKE_NEWEST_MAJOR, reader);
      break;
    }
  return TRUE;
}

static gboolean
check_ssh (gpointer data, GCancellable *cancellable, GError **error)
{
  Checks *checks = data;
  const char *argv[] = { "ssh", "-V", NULL };
  const char *fix = "install OpenSSH's client (`apt install openssh-client`)";
  g_autoptr(GError) local_error = NULL;
  g_autofree char *line = version_line (argv, &local_error);
  g_autofree char *keygen = g_find_program_in_path ("ssh-keygen");

  if (line == NULL)
    check_set (&checks->ssh, CHECK_FAIL, fix, "%s", local_error->message);
  else if (keygen == NULL)
    check_set (&checks->ssh, CHECK_FAIL, fix, "%s, but ssh-keygen is not on PATH", line);
  else
    check_set (&checks->ssh, CHECK_OK, NULL, "%s", line);
  return TRUE;
}

/* An AWS file with secrets in it is for its owner's eyes only. */
static void
check_private_file (Check *check, const char *env, const char *base)
{
  const char *from_env = g_getenv (env);
  g_autofree char *path = from_env && *from_env
                              ? g_strdup (from_env)
                              : g_build_filename (g_get_home_dir (), ".aws", base, NULL);
  struct stat st;

  if (stat (path, &st) != 0)
    {
      check_set (check, CHECK_OK, NULL, "%s (not present)", path);
      return;
    }
  if ((st.st_mode & 077) != 0)
    {
      const char *chmod_argv[] = { "chmod", "600", path, NULL };
      g_autofree char *shown = ferry_argv_display (chmod_argv);
      check_set (check, CHECK_WARN, NULL, "%s is mode %03o, readable by others: run %s", path,
                 (unsigned) (st.st_mode & 0777), shown);
      return;
    }
  check_set (check, CHECK_OK, NULL, "%s (mode %03o)", path, (unsigned) (st.st_mode & 0777));
}

static void
print_check (Check *check, guint *n_failed, GString *fixes)
{
  static const char *const labels[] = { "ok  ", "warn", "FAIL" };

  g_print ("%s %s: %s\n", labels[check->status], check->what, check->text ? check->text : "");
  if (check->status == CHECK_FAIL)
    {
      (*n_failed)++;
      if (check->fix != NULL && strstr (fixes->str, check->fix) == NULL)
        g_string_append_printf (fixes, "%s%s", fixes->len ? "; " : "", check->fix);
    }
}

static char *opt_host;
static char *opt_remote_dir;
static gboolean opt_instance;
static gboolean opt_slurm;

static const GOptionEntry options[] = {
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "Check this remote (snakemake, SLURM, disk, shell) instead of this machine", "[USER@]HOST" },
  { "instance", 0, 0, G_OPTION_ARG_NONE, &opt_instance, "Check the deployment's instance instead of this machine", NULL },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "The remote directory whose free space counts (default ~/ferry/NAME)", "DIR" },
  { "slurm", 0, 0, G_OPTION_ARG_NONE, &opt_slurm, "With --host or --instance: SLURM is essential (for run --slurm)", NULL },
  { NULL }
};

static void
check_clear (Check *check)
{
  g_free (check->text);
}

gboolean
ferry_builtin_check (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) state_error = NULL;
  g_autoptr(GString) fixes = g_string_new (NULL);
  Checks checks = { inv, { "aws" }, { "region" }, { "credentials" }, { "snakemake" }, { "ssh" } };
  Check config = { "aws config file" }, credentials_file = { "aws credentials file" },
        state = { "state" };
  g_autoptr(FerryPool) pool = ferry_pool_new (0, c);
  guint n_failed = 0;

  g_option_context_set_summary (
      context,
      "Check what ferry needs: the AWS CLI (v1 or v2), a region, working credentials\n"
      "(sts get-caller-identity), private ~/.aws/config and ~/.aws/credentials, snakemake,\n"
      "and ssh. One line per item; exit 1 when something essential is missing.\n"
      "With --host or --instance, the remote instead: snakemake (and --slurm or the executor\n"
      "plugin), sbatch, squeue, sinfo and scancel, the default partition, free space, the login shell.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT,
                                   c, error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error, "unexpected argument \"%s\" (see ferry check --help)",
                              argv[1]);
  if (opt_host != NULL && opt_instance)
    return ferry_usage_error (context, error, "--host and --instance exclude each other");
  if ((opt_slurm || opt_remote_dir != NULL) && opt_host == NULL && !opt_instance)
    return ferry_usage_error (context, error, "--%s goes with --host or --instance",
                              opt_slurm ? "slurm" : "remote-dir");
  if (opt_host != NULL || opt_instance)
    return ferry_check_remote (inv, opt_host, opt_remote_dir, opt_slurm, c, error);

  /* The state only adds settings (endpoint, region, profile): a bad one is reported, not fatal. */
  if (!ferry_invocation_open_state (inv, FALSE, FALSE, &state_error))
    check_set (&state, CHECK_WARN, NULL, "%s", state_error->message);
  else if (ferry_state_exists_on_disk (inv->state))
    {
      g_autofree char *instance
          = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "id");
      check_set (&state, CHECK_OK, NULL, "deployment %s in %s%s%s", inv->name, inv->state_dir,
                 instance ? ", instance " : ", no instance", instance ? instance : "");
    }
  else
    check_set (&state, CHECK_OK, NULL, "no deployment in %s yet", inv->state_dir);

  /* Every item is checked at once; none fails the others (an item's failure is its line). */
  ferry_pool_add (pool, "aws", check_aws, &checks, NULL, NULL);
  ferry_pool_add (pool, "region", check_region, &checks, NULL, NULL);
  ferry_pool_add (pool, "credentials", check_credentials, &checks, NULL, NULL);
  ferry_pool_add (pool, "snakemake", check_snakemake, &checks, NULL, NULL);
  ferry_pool_add (pool, "ssh", check_ssh, &checks, NULL, NULL);
  if (!ferry_pool_run (pool, error))
    return FALSE;
  check_private_file (&config, "AWS_CONFIG_FILE", "config");
  check_private_file (&credentials_file, "AWS_SHARED_CREDENTIALS_FILE", "credentials");

  /* Without the CLI, the region and credentials lines only repeat that. */
  if (checks.aws.status == CHECK_FAIL)
    {
      check_set (&checks.region, CHECK_FAIL, checks.aws.fix, "not checked (no AWS CLI)");
      check_set (&checks.credentials, CHECK_FAIL, checks.aws.fix, "not checked (no AWS CLI)");
    }
  print_check (&checks.aws, &n_failed, fixes);
  print_check (&checks.region, &n_failed, fixes);
  print_check (&checks.credentials, &n_failed, fixes);
  print_check (&config, &n_failed, fixes);
  print_check (&credentials_file, &n_failed, fixes);
  print_check (&checks.snakemake, &n_failed, fixes);
  print_check (&checks.ssh, &n_failed, fixes);
  print_check (&state, &n_failed, fixes);

  check_clear (&checks.aws);
  check_clear (&checks.region);
  check_clear (&checks.credentials);
  check_clear (&checks.snakemake);
  check_clear (&checks.ssh);
  check_clear (&config);
  check_clear (&credentials_file);
  check_clear (&state);
  if (n_failed > 0)
    return ferry_throw (error, FERRY_ERROR_FAILED,
                        "%u essential check%s failed: %s; then run ferry check again", n_failed,
                        n_failed == 1 ? "" : "s", fixes->str);
  return TRUE;
}
