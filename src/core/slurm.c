/* SLURM through snakemake: version-dependent flags, default resources, the remote probe, and the
 * run's jobs in squeue (never sacct: it fails where accounting is off). */
#include "slurm.h"
#include "snakemake.h"

#include <string.h>

void
ferry_slurm_options_clear (FerrySlurmOptions *opts)
{
  g_clear_pointer (&opts->partition, g_free);
  g_clear_pointer (&opts->account, g_free);
  g_clear_pointer (&opts->resources, g_strfreev);
}

void
ferry_slurm_probe_clear (FerrySlurmProbe *probe)
{
  g_clear_pointer (&probe->snakemake_version, g_free);
  g_clear_pointer (&probe->sbatch, g_free);
  g_clear_pointer (&probe->squeue, g_free);
  g_clear_pointer (&probe->scancel, g_free);
  g_clear_pointer (&probe->sinfo, g_free);
  g_clear_pointer (&probe->sacct, g_free);
  g_clear_pointer (&probe->sacct_error, g_free);
}

/* A partition or account name as SLURM writes them; nothing a shell or Python would read. */
static gboolean
slurm_name_ok (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 200)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("_.+-", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
identifier_ok (const char *s, gsize len)
{
  if (len == 0 || !(g_ascii_isalpha (s[0]) || s[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '_')
      return FALSE;
  return TRUE;
}

gboolean
ferry_slurm_options_check (const FerrySlurmOptions *opts, GError **error)
{
  if (opts->partition != NULL && !slurm_name_ok (opts->partition))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "--partition \"%s\" is not a SLURM partition name (letters, digits, _ . + -)",
                        opts->partition);
  if (opts->account != NULL && !slurm_name_ok (opts->account))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "--account \"%s\" is not a SLURM account name (letters, digits, _ . + -)",
                        opts->account);
  for (char **r = opts->resources; r != NULL && *r != NULL; r++)
    {
      const char *eq = strchr (*r, '=');

      if (eq == NULL || !identifier_ok (*r, (gsize) (eq - *r)) || eq[1] == '\0')
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "--slurm-resources \"%s\" is not KEY=VALUE (KEY a resource name such as"
                            " mem_mb, runtime or slurm_extra)",
                            *r);
      if (strchr (eq + 1, '\n') != NULL || strchr (eq + 1, '\r') != NULL)
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "--slurm-resources %.*s: the value has a line break", (int) (eq - *r),
                            *r);
      if (g_str_has_prefix (*r, "slurm_partition=") || g_str_has_prefix (*r, "slurm_account="))
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "--slurm-resources %.*s: use --%s", (int) (eq - *r), *r,
                            g_str_has_prefix (*r, "slurm_partition=") ? "partition" : "account");
    }
  return TRUE;
}

/* --- the probe ------------------------------------------------------------------------------- */

/* /bin/sh whatever the login shell (ferry_remote_capture sees to it). sacct asked for nothing says
 * whether SLURM accounting answers (without it: "Slurm accounting storage is disabled", exit 1).
 * [1-7].* is 1.x to 7.x, not 10+. The report of `check --host` starts the same way. */
#define PROBE_HEAD                                                                                  \
  "v=$(snakemake --version 2>/dev/null | head -n 1); echo \"snakemake=$v\"; "                       \
  "for c in sbatch squeue scancel sinfo sacct; do echo \"$c=$(command -v $c 2>/dev/null)\"; done; " \
  "if command -v sacct >/dev/null 2>&1; then "                                                     \
  "e=$(sacct -n -X -P -o JobIdRaw,State -S now 2>&1 >/dev/null); echo \"sacct.rc=$?\"; "           \
  "printf '%s\\n' \"$e\" | head -n 1 | sed 's/^/sacct.err=/'; fi; "
#define PROBE_HELP "case \"$v\" in ''|[1-7].*) ;; *) echo '--help--'; snakemake --help 2>/dev/null ;; esac; true"

static const char probe_script[] = PROBE_HEAD PROBE_HELP;

const char *
ferry_slurm_probe_script (void)
{
  return probe_script;
}

gboolean
ferry_slurm_help_has_executor (const char *help)
{
  /* argparse lists the choices as {local,dryrun,touch,slurm} after --executor. */
  const char *p = help;

  while (p != NULL && (p = strstr (p, "--executor")) != NULL)
    {
      const char *open = strchr (p, '{');
      const char *close = open ? strchr (open, '}') : NULL;
      const char *nl = strchr (p, '\n');

      p += strlen ("--executor");
      if (open == NULL || close == NULL || (nl != NULL && open > nl))
        continue;
      g_autofree char *choices = g_strndup (open + 1, (gsize) (close - open - 1));
      g_auto(GStrv) names = g_strsplit (choices, ",", -1);
      for (char **n = names; *n; n++)
        if (g_strcmp0 (g_strstrip (*n), "slurm") == 0)
          return TRUE;
    }
  return FALSE;
}

/* The report's lines, up to the remote snakemake's --help that follows "--help--". */
static GStrv
report_lines (const char *out)
{
  const char *help = strstr (out, "--help--\n");
  g_autofree char *head = help ? g_strndup (out, (gsize) (help - out)) : g_strdup (out);
  return g_strsplit (head, "\n", -1);
}

gboolean
ferry_slurm_probe_parse (const char *out, FerrySlurmProbe *probe, GError **error)
{
  const char *help = strstr (out, "--help--\n");
  g_auto(GStrv) lines = report_lines (out);
  gboolean seen = FALSE;

  ferry_slurm_probe_clear (probe);
  probe->major = probe->minor = 0;
  probe->executor_plugin = probe->status_command = FALSE;
  probe->sacct_rc = -1;
  for (char **l = lines; *l; l++)
    {
      char *eq = strchr (*l, '=');
      char **slot = NULL;

      if (eq == NULL)
        continue;
      *eq = '\0';
      if (strcmp (*l, "snakemake") == 0)
        {
          slot = &probe->snakemake_version;
          seen = TRUE;
        }
      else if (strcmp (*l, "sbatch") == 0)
        slot = &probe->sbatch;
      else if (strcmp (*l, "squeue") == 0)
        slot = &probe->squeue;
      else if (strcmp (*l, "scancel") == 0)
        slot = &probe->scancel;
      else if (strcmp (*l, "sinfo") == 0)
        slot = &probe->sinfo;
      else if (strcmp (*l, "sacct") == 0)
        slot = &probe->sacct;
      else if (strcmp (*l, "sacct.err") == 0)
        slot = &probe->sacct_error;
      else if (strcmp (*l, "sacct.rc") == 0)
        probe->sacct_rc = (int) g_ascii_strtoll (eq + 1, NULL, 10);
      if (slot != NULL && *g_strstrip (eq + 1) != '\0')
        {
          g_free (*slot);
          *slot = g_strdup (eq + 1);
        }
    }
  if (!seen)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "the remote's answer about snakemake and SLURM is garbled: \"%.80s\"", out);
  if (probe->snakemake_version != NULL)
    {
      char *end = NULL;
      gint64 major = g_ascii_strtoll (probe->snakemake_version, &end, 10);

      if (end == probe->snakemake_version || major < 1 || major > 1000)
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "the remote `snakemake --version` printed \"%s\", not a version",
                            probe->snakemake_version);
      probe->major = (int) major;
      if (*end == '.')
        probe->minor = (int) g_ascii_strtoll (end + 1, NULL, 10);
    }
  if (help != NULL)
    {
      probe->executor_plugin = ferry_slurm_help_has_executor (help);
      probe->status_command = probe->executor_plugin
                              && strstr (help, "--slurm-status-command") != NULL;
    }
  return TRUE;
}

/* A value as snakemake's --default-resources reads it: an integer or a quoted string stays; any
 * other word becomes a Python string literal, since snakemake evaluates the value. */
static char *
resource_value (const char *v)
{
  GString *s;
  char *end = NULL;
  gsize n = strlen (v);

  g_ascii_strtoll (v, &end, 10);
  if (end != v && *end == '\0')
    return g_strdup (v);
  if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0])
    return g_strdup (v);
  s = g_string_new ("'");
  for (const char *p = v; *p; p++)
    {
      if (*p == '\\' || *p == '\'')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  g_string_append_c (s, '\'');
  return g_string_free (s, FALSE);
}

static void
builder_take (GStrvBuilder *b, char *s)
{
  g_strv_builder_add (b, s);
  g_free (s);
}

gboolean
ferry_slurm_version_known (const FerrySlurmProbe *probe, char **out_why)
{
  char *why = NULL;

  switch (ferry_snakemake_support (probe->major, probe->minor))
    {
    case FERRY_SNAKEMAKE_SUPPORTED:
      break;
    case FERRY_SNAKEMAKE_TOO_OLD:
      why = g_strdup ("older than 7.19, which --slurm needs");
      break;
    case FERRY_SNAKEMAKE_UNKNOWN:
      why = g_strdup_printf ("newer than ferry knows (7.19 to %d.x)", FERRY_SNAKEMAKE_NEWEST_MAJOR);
      break;
    }
  if (out_why != NULL)
    *out_why = why;
  else
    g_free (why);
  return why == NULL;
}

/* The value of the user's --slurm-status-command, or NULL. */
static const char *
user_status_command (const char *const *args)
{
  static const char opt[] = "--slurm-status-command";

  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      if (strcmp (args[i], "--") == 0)
        break;
      if (strcmp (args[i], opt) == 0)
        return args[i + 1] != NULL ? args[i + 1] : "";
      if (g_str_has_prefix (args[i], opt) && args[i][strlen (opt)] == '=')
        return args[i] + strlen (opt) + 1;
    }
  return NULL;
}

/* Why SLURM accounting does not answer on the remote, or NULL when it does. */
static char *
no_accounting (const FerrySlurmProbe *probe)
{
  if (probe->sacct == NULL)
    return g_strdup ("no sacct on the PATH");
  if (probe->sacct_rc <= 0)
    return NULL;
  if (probe->sacct_error != NULL && *probe->sacct_error != '\0')
    return g_strdup_printf ("sacct failed: %s", probe->sacct_error);
  return g_strdup_printf ("sacct failed (exit %d)", probe->sacct_rc);
}

FerrySlurmStates
ferry_slurm_job_states (const FerrySlurmProbe *probe, const char *const *user_args,
                        gboolean *out_add_squeue, char **out_text)
{
  g_autofree char *why = no_accounting (probe);
  const char *user = user_status_command (user_args);
  FerrySlurmStates states;
  char *text;

  if (out_add_squeue != NULL)
    *out_add_squeue = FALSE;
  if (probe->major < 8)
    {
      /* snakemake 7's --slurm asks sacct, and scontrol when sacct fails: either way it ends. */
      states = FERRY_SLURM_STATES_SACCT_SCONTROL;
      text = why ? g_strdup_printf ("scontrol (snakemake 7; no accounting: %s)", why)
                 : g_strdup ("sacct, else scontrol (snakemake 7)");
    }
  else if (g_strcmp0 (user, "squeue") == 0)
    {
      states = FERRY_SLURM_STATES_SQUEUE;
      text = g_strdup ("squeue (--slurm-status-command squeue)");
    }
  else if (user != NULL)
    {
      states = why && g_str_equal (user, "sacct") ? FERRY_SLURM_STATES_STUCK
                                                 : FERRY_SLURM_STATES_SACCT;
      text = g_strdup_printf ("%s (--slurm-status-command %s)%s%s%s", user, user,
                              states == FERRY_SLURM_STATES_STUCK ? ", which fails here (no accounting: " : "",
                              states == FERRY_SLURM_STATES_STUCK ? why : "",
                              states == FERRY_SLURM_STATES_STUCK ? ")" : "");
    }
  else if (why == NULL)
    {
      states = FERRY_SLURM_STATES_SACCT;
      text = g_strdup ("sacct");
    }
  else if (probe->status_command)
    {
      states = FERRY_SLURM_STATES_SQUEUE;
      text = g_strdup_printf ("squeue (no accounting: %s)", why);
      if (out_add_squeue != NULL)
        *out_add_squeue = TRUE;
    }
  else
    {
      states = FERRY_SLURM_STATES_STUCK;
      text = g_strdup_printf ("sacct only (this snakemake-executor-plugin-slurm has no"
                              " --slurm-status-command), which fails here (no accounting: %s)",
                              why);
    }
  if (out_text != NULL)
    *out_text = text;
  else
    g_free (text);
  return states;
}

GStrv
ferry_slurm_snakemake_args (const FerrySlurmOptions *opts, const FerrySlurmProbe *probe,
                            const char *const *user_args, const char *host, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *jobs = g_strdup_printf ("%u", opts->jobs ? opts->jobs : FERRY_SLURM_DEFAULT_JOBS);
  g_autofree char *states_text = NULL;
  gboolean has_resources, add_squeue = FALSE;

  if (!ferry_slurm_options_check (opts, error))
    return NULL;
  if (probe->snakemake_version == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "snakemake does not run on %s: install it there (7.19 or later, or 8+ with"
                        " snakemake-executor-plugin-slurm) or put it on the PATH of non-interactive"
                        " ssh sessions",
                        host), NULL);
  if (probe->major < 7 || (probe->major == 7 && probe->minor < 19))
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                        "snakemake %s on %s cannot submit to SLURM (--slurm needs 7.19 or later):"
                        " upgrade it there, or use 8+ with snakemake-executor-plugin-slurm",
                        probe->snakemake_version, host), NULL);
  if (ferry_snakemake_support (probe->major, probe->minor) == FERRY_SNAKEMAKE_UNKNOWN)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                        "snakemake %s on %s is newer than ferry knows for --slurm (7.19 to %d.x):"
                        " use a %d there, or run without --slurm and pass its executor yourself"
                        " (-- --executor slurm)",
                        probe->snakemake_version, host, FERRY_SNAKEMAKE_NEWEST_MAJOR,
                        FERRY_SNAKEMAKE_NEWEST_MAJOR), NULL);
  if (probe->major >= 8 && !probe->executor_plugin)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "snakemake %s on %s has no slurm executor: install"
                        " snakemake-executor-plugin-slurm there (pip install"
                        " snakemake-executor-plugin-slurm, next to snakemake)",
                        probe->snakemake_version, host), NULL);
  if (probe->sbatch == NULL || probe->squeue == NULL || probe->scancel == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "%s is not found on %s: --slurm needs a SLURM login node, with SLURM's"
                        " commands on the PATH of non-interactive ssh sessions (see ferry check"
                        " --host %s)",
                        probe->sbatch == NULL ? "sbatch" : probe->squeue == NULL ? "squeue" : "scancel",
                        host, host), NULL);
  /* A plugin that cannot see its jobs end would wait forever; the user's own
   * --slurm-status-command sacct is theirs to keep. */
  if (ferry_slurm_job_states (probe, user_args, &add_squeue, &states_text) == FERRY_SLURM_STATES_STUCK
      && user_status_command (user_args) == NULL)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                        "snakemake %s on %s would never see its SLURM jobs end: its"
                        " snakemake-executor-plugin-slurm reads job states with %s; upgrade the"
                        " plugin there (2.0.1 or later reads them with squeue), or ask the cluster's"
                        " admins for accounting (slurmdbd)",
                        probe->snakemake_version, host, states_text), NULL);

  has_resources = opts->partition != NULL || opts->account != NULL
                  || (opts->resources != NULL && opts->resources[0] != NULL);
  if (has_resources)
    {
      g_strv_builder_add (b, "--default-resources");
      if (opts->partition != NULL)
        builder_take (b, g_strdup_printf ("slurm_partition='%s'", opts->partition));
      /* Only when given: snakemake 7 checks an account with sacctmgr, which fails without
       * accounting (no slurmdbd). */
      if (opts->account != NULL)
        builder_take (b, g_strdup_printf ("slurm_account='%s'", opts->account));
      for (char **r = opts->resources; r != NULL && *r != NULL; r++)
        {
          const char *eq = strchr (*r, '=');
          g_autofree char *value = resource_value (eq + 1);

          /* snakemake 7 splits each pair at every '='. */
          if (probe->major < 8 && strchr (eq + 1, '=') != NULL)
            return (ferry_throw (error, FERRY_ERROR_USAGE,
                                "--slurm-resources %s: snakemake %s cannot take a '=' in a value",
                                *r, probe->snakemake_version), NULL);
          builder_take (b, g_strdup_printf ("%.*s=%s", (int) (eq - *r), *r, value));
        }
    }
  if (probe->major >= 8)
    {
      g_strv_builder_add_many (b, "--executor", "slurm", "--jobs", jobs, NULL);
      if (add_squeue)
        g_strv_builder_add_many (b, "--slurm-status-command", "squeue", NULL);
    }
  else
    /* 7.21 turns any rate above 1 into 0.03, one status check every 33 s. */
    g_strv_builder_add_many (b, "--slurm", "--jobs", jobs, "--max-status-checks-per-second", "1",
                             NULL);
  return g_strv_builder_end (b);
}

gboolean
ferry_slurm_probe (FerryRemote *remote, FerrySlurmProbe *probe, GCancellable *cancellable,
                   GError **error)
{
  g_autoptr(GBytes) out = NULL;
  g_autofree char *text = NULL;

  /* ferry_remote_capture hands the script to /bin/sh whatever the login shell. */
  if (!ferry_remote_capture (remote, probe_script, &out, NULL, cancellable, error))
    return FALSE;
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  return ferry_slurm_probe_parse (text, probe, error);
}

/* --- the queue ------------------------------------------------------------------------------- */

gboolean
ferry_slurm_argv_is_slurm (const char *const *argv)
{
  for (guint i = 0; argv != NULL && argv[i] != NULL; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        break;
      if (strcmp (argv[i], "--slurm") == 0 || strcmp (argv[i], "--executor=slurm") == 0
          || strcmp (argv[i], "-e=slurm") == 0)
        return TRUE;
      if ((strcmp (argv[i], "--executor") == 0 || strcmp (argv[i], "-e") == 0)
          && g_strcmp0 (argv[i + 1], "slurm") == 0)
        return TRUE;
    }
  return FALSE;
}

#define QUEUE_SEPARATOR "--squeue--"

char *
ferry_slurm_queue_command (const char *remote_dir, const char *log_path)
{
  g_autoptr(GString) script = g_string_new ("cd");

  ferry_remote_cmd_path (script, remote_dir);
  g_string_append (script, " 2>/dev/null && ");
  if (log_path != NULL)
    {
      g_string_append (script, "l=");
      g_autoptr(GString) path = g_string_new (NULL);
      ferry_remote_cmd_path (path, log_path);
      g_string_append (script, path->str);
    }
  else
    g_string_append (script, "l=$(ls -t .snakemake/log/*.snakemake.log 2>/dev/null | head -n 1)");
  g_string_append (script, "; grep -h -e 'submitted with SLURM jobid' -e 'SLURM run ID:' \"$l\""
                           " 2>/dev/null; echo '" QUEUE_SEPARATOR "'; "
                           "squeue -h -u \"$(id -un)\" -o '%i|%t|%j'");
  return g_string_free (g_steal_pointer (&script), FALSE);
}

/* The digits after `marker` in line, or NULL. */
static char *
digits_after (const char *line, const char *marker)
{
  const char *p = strstr (line, marker);
  const char *e;

  if (p == NULL)
    return NULL;
  p += strlen (marker);
  for (e = p; g_ascii_isdigit (*e); e++)
    ;
  return e > p ? g_strndup (p, (gsize) (e - p)) : NULL;
}

gboolean
ferry_slurm_queue_parse (const char *out, FerrySlurmQueue *queue, GStrv *out_queued, GError **error)
{
  const char *sep = strstr (out, QUEUE_SEPARATOR "\n");
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GStrvBuilder) queued = g_strv_builder_new ();
  g_autofree char *run_id = NULL;
  g_autofree char *head = NULL;
  g_auto(GStrv) log_lines = NULL;
  g_auto(GStrv) queue_lines = NULL;

  memset (queue, 0, sizeof *queue);
  if (sep == NULL)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "the remote's squeue answer is garbled");
  head = g_strndup (out, (gsize) (sep - out));
  log_lines = g_strsplit (head, "\n", -1);
  for (char **l = log_lines; *l; l++)
    {
      char *id = digits_after (*l, "submitted with SLURM jobid ");
      const char *r = strstr (*l, "SLURM run ID: ");

      if (id != NULL)
        g_hash_table_add (ids, id);
      if (r != NULL)
        {
          g_free (run_id);
          run_id = g_strstrip (g_strdup (r + strlen ("SLURM run ID: ")));
        }
    }
  queue->submitted = g_hash_table_size (ids);

  queue_lines = g_strsplit (sep + strlen (QUEUE_SEPARATOR "\n"), "\n", -1);
  for (char **l = queue_lines; *l; l++)
    {
      g_auto(GStrv) f = NULL;
      g_autofree char *base = NULL;
      gboolean ours;

      if (**l == '\0')
        continue;
      f = g_strsplit (*l, "|", 3);
      if (g_strv_length (f) < 3)
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "unexpected squeue line \"%.80s\"", *l);
      /* An array task shows as 123_4 or 123_[1-5]: the job is 123. */
      base = g_strndup (f[0], strcspn (f[0], "_"));
      ours = g_hash_table_contains (ids, base)
             || (run_id != NULL && *run_id != '\0' && strcmp (f[2], run_id) == 0);
      if (!ours || g_hash_table_contains (seen, base))
        continue;
      if (!g_hash_table_contains (ids, base))
        {
          /* Named after the run but not (yet) in its log: still the run's. */
          g_hash_table_add (ids, g_strdup (base));
          queue->submitted++;
        }
      if (strcmp (f[1], "PD") == 0)
        queue->pending++;
      else
        queue->running++;
      g_strv_builder_add (queued, base);
      g_hash_table_add (seen, g_steal_pointer (&base));
    }
  queue->done = queue->submitted - MIN (queue->submitted, queue->pending + queue->running);
  if (out_queued != NULL)
    *out_queued = g_strv_builder_end (queued);
  return TRUE;
}

gboolean
ferry_slurm_queue (FerryRemote *remote, const char *remote_dir, const char *log_path,
                   FerrySlurmQueue *queue, GStrv *out_queued, GCancellable *cancellable,
                   GError **error)
{
  g_autofree char *cmd = ferry_slurm_queue_command (remote_dir, log_path);
  g_autoptr(GBytes) out = NULL;
  g_autofree char *text = NULL;

  if (!ferry_remote_capture (remote, cmd, &out, NULL, cancellable, error))
    {
      g_prefix_error (error, "reading the SLURM queue: ");
      return FALSE;
    }
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  return ferry_slurm_queue_parse (text, queue, out_queued, error);
}

char *
ferry_slurm_queue_describe (const FerrySlurmQueue *queue)
{
  return g_strdup_printf ("SLURM jobs: %u pending, %u running, %u done", queue->pending,
                          queue->running, queue->done);
}

gboolean
ferry_slurm_cancel_jobs (FerryRemote *remote, const char *remote_dir, const char *log_path,
                         guint timeout_s,
                         guint *out_cancelled, GCancellable *cancellable, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  gboolean first = TRUE;

  for (;;)
    {
      FerrySlurmQueue q;
      g_auto(GStrv) queued = NULL;

      if (!ferry_slurm_queue (remote, remote_dir, log_path, &q, &queued, cancellable, error))
        return FALSE;
      if (first && out_cancelled != NULL)
        *out_cancelled = g_strv_length (queued);
      if (queued[0] == NULL)
        return TRUE;
      if (!first && g_get_monotonic_time () > deadline)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "%u SLURM job(s) of the run are still queued after scancel (%s...):"
                            " see squeue on %s",
                            g_strv_length (queued), queued[0], remote->host);
      /* Job ids (digits), at most --jobs of them: a bounded command line. */
      for (guint i = 0, n = g_strv_length (queued); i < n; i += 200)
        {
          g_autoptr(GString) cmd = g_string_new (NULL);

          ferry_remote_cmd_op (cmd, "scancel");
          for (guint j = i; j < i + 200 && j < n; j++)
            ferry_remote_cmd_word (cmd, queued[j]);
          if (!ferry_remote_capture (remote, cmd->str, NULL, NULL, cancellable, error))
            {
              g_prefix_error (error, "cancelling the run's SLURM jobs: ");
              return FALSE;
            }
        }
      first = FALSE;
      if (!ferry_sleep (500, cancellable, error))
        return FALSE;
    }
}

/* --- check --host ------------------------------------------------------------------------------ */

static void
partition_free (gpointer p)
{
  FerrySlurmPartition *part = p;

  g_free (part->name);
  g_free (part->avail);
  g_free (part->time_limit);
  g_free (part);
}

void
ferry_remote_report_clear (FerryRemoteReport *report)
{
  g_clear_pointer (&report->login_shell, g_free);
  ferry_slurm_probe_clear (&report->probe);
  g_clear_pointer (&report->sinfo_line, g_free);
  g_clear_pointer (&report->squeue_line, g_free);
  g_clear_pointer (&report->sbatch_line, g_free);
  g_clear_pointer (&report->scancel_line, g_free);
  g_clear_pointer (&report->partitions, g_ptr_array_unref);
  g_clear_pointer (&report->dir, g_free);
}

/* Each SLURM command is asked something harmless; its status and first lines come back prefixed by
 * its name. sbatch --test-only submits nothing. */
#define ASK(cmd, what, lines)                                                                       \
  "if command -v " cmd " >/dev/null 2>&1; then o=$(" what " 2>&1); echo \"" cmd ".rc=$?\"; "       \
  "printf '%s\\n' \"$o\" | head -n " lines " | sed 's/^/" cmd ": /'; fi; "

char *
ferry_remote_report_script (const char *remote_dir)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autoptr(GString) path = g_string_new (NULL);

  g_string_append (s, "u=$(id -un); echo \"shell=$(getent passwd \"$u\" 2>/dev/null | cut -d: -f7)\"; "
                      PROBE_HEAD
                      ASK ("sinfo", "sinfo -h -o '%P|%a|%l|%D|%C'", "200")
                      ASK ("squeue", "squeue -h -u \"$u\" -o %i", "1")
                      ASK ("sbatch", "sbatch --test-only -o /dev/null --wrap true", "1")
                      ASK ("scancel", "scancel --version", "1")
                      "scontrol show config 2>/dev/null | sed -n 's/^MinJobAge *= *\\([0-9]*\\).*/minjobage=\\1/p'; "
                      "d=");
  /* Quoted on its own: the word must follow d= with no space. */
  ferry_remote_cmd_path (path, remote_dir);
  g_string_append (s, path->str);
  g_string_append (s, "; e=; until [ -d \"$d\" ]; do e=1; d=$(dirname \"$d\"); done; "
                      "echo \"dir=$d\"; echo \"dirup=$e\"; "
                      "df -Pk \"$d\" 2>/dev/null | tail -n 1 | sed 's/^/df: /'; "
                      PROBE_HELP);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
set_line (char **slot, const char *line)
{
  if (*slot == NULL)
    *slot = g_strdup (line);
}

static FerrySlurmPartition *
partition_parse (const char *line)
{
  g_auto(GStrv) f = g_strsplit (line, "|", 5);
  FerrySlurmPartition *p;
  g_auto(GStrv) cpus = NULL;
  gsize n;

  if (g_strv_length (f) != 5 || *f[0] == '\0')
    return NULL;
  p = g_new0 (FerrySlurmPartition, 1);
  n = strlen (f[0]);
  p->is_default = f[0][n - 1] == '*';
  p->name = g_strndup (f[0], p->is_default ? n - 1 : n);
  p->avail = g_strdup (f[1]);
  p->time_limit = g_strdup (f[2]);
  p->nodes = (guint) g_ascii_strtoull (f[3], NULL, 10);
  /* %C: allocated/idle/other/total */
  cpus = g_strsplit (f[4], "/", 4);
  if (g_strv_length (cpus) == 4)
    {
      p->cpus_idle = (guint) g_ascii_strtoull (cpus[1], NULL, 10);
      p->cpus_total = (guint) g_ascii_strtoull (cpus[3], NULL, 10);
    }
  return p;
}

gboolean
ferry_remote_report_parse (const char *out, FerryRemoteReport *report, GError **error)
{
  g_auto(GStrv) lines = report_lines (out);
  struct
  {
    const char *name;
    int *rc;
    char **line;
  } cmds[] = {
    { "sinfo", &report->sinfo_rc, &report->sinfo_line },
    { "squeue", &report->squeue_rc, &report->squeue_line },
    { "sbatch", &report->sbatch_rc, &report->sbatch_line },
    { "scancel", &report->scancel_rc, &report->scancel_line },
  };

  ferry_remote_report_clear (report);
  report->sinfo_rc = report->squeue_rc = report->sbatch_rc = report->scancel_rc = -1;
  report->dir_avail_kb = -1;
  report->min_job_age = -1;
  report->partitions = g_ptr_array_new_with_free_func (partition_free);
  if (!ferry_slurm_probe_parse (out, &report->probe, error))
    return FALSE;
  for (char **l = lines; *l; l++)
    {
      if (g_str_has_prefix (*l, "shell=") && (*l)[6] != '\0')
        set_line (&report->login_shell, *l + 6);
      else if (g_str_has_prefix (*l, "dir="))
        set_line (&report->dir, *l + 4);
      else if (g_str_has_prefix (*l, "minjobage=") && g_ascii_isdigit ((*l)[10]))
        report->min_job_age = (int) MIN (g_ascii_strtoll (*l + 10, NULL, 10), G_MAXINT);
      else if (g_str_has_prefix (*l, "dirup="))
        report->dir_is_parent = (*l)[6] != '\0';
      else if (g_str_has_prefix (*l, "df: "))
        {
          g_auto(GStrv) f = g_strsplit_set (*l + 4, " \t", -1);
          guint k = 0;
          /* Filesystem 1024-blocks Used Available Capacity Mounted-on */
          for (char **w = f; *w; w++)
            if (**w != '\0' && ++k == 4)
              report->dir_avail_kb = g_ascii_strtoll (*w, NULL, 10);
        }
      for (guint i = 0; i < G_N_ELEMENTS (cmds); i++)
        {
          g_autofree char *rc = g_strconcat (cmds[i].name, ".rc=", NULL);
          g_autofree char *pre = g_strconcat (cmds[i].name, ": ", NULL);

          if (g_str_has_prefix (*l, rc))
            *cmds[i].rc = (int) g_ascii_strtoll (*l + strlen (rc), NULL, 10);
          else if (g_str_has_prefix (*l, pre))
            {
              const char *text = *l + strlen (pre);

              /* sbatch prefixes its own messages with "sbatch: ". */
              if (g_str_has_prefix (text, pre))
                text += strlen (pre);
              set_line (cmds[i].line, text);
              if (cmds[i].rc == &report->sinfo_rc)
                {
                  FerrySlurmPartition *p = partition_parse (text);
                  if (p != NULL)
                    g_ptr_array_add (report->partitions, p);
                }
            }
        }
    }
  return TRUE;
}

gboolean
ferry_remote_report (FerryRemote *remote, const char *remote_dir, FerryRemoteReport *report,
                     GCancellable *cancellable, GError **error)
{
  g_autofree char *script = ferry_remote_report_script (remote_dir);
  g_autoptr(GBytes) out = NULL;
  g_autofree char *text = NULL;

  if (!ferry_remote_capture (remote, script, &out, NULL, cancellable, error))
    return FALSE;
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  return ferry_remote_report_parse (text, report, error);
}

const FerrySlurmPartition *
ferry_remote_report_default_partition (const FerryRemoteReport *report)
{
  for (guint i = 0; report->partitions != NULL && i < report->partitions->len; i++)
    {
      const FerrySlurmPartition *p = g_ptr_array_index (report->partitions, i);
      if (p->is_default)
        return p;
    }
  return NULL;
}
