/* Unit tests for core/slurm: snakemake's SLURM flags per version, the default resources, the probe's
 * parsing, and the run's jobs picked out of squeue. */
#include "core/slurm.h"
#include "test-init.h"

static void
assert_args (GStrv got, const char *want)
{
  g_autofree char *g = NULL;

  g_assert_nonnull (got);
  g = g_strjoinv (" ", got);
  g_assert_cmpstr (g, ==, want);
}

#define NO_ACCOUNTING "Slurm accounting storage is disabled"

/* A probe's answer: snakemake `version`, SLURM's commands, sacct answering (acct_error NULL) or
 * failing with acct_error ("" : no sacct at all), and for 8+ the remote's --help: the real output
 * of a release, recorded in tests/data/snakemake-help/<help>.txt (see the README there), or NULL. */
static void
probe_set (FerrySlurmProbe *p, const char *version, const char *help, const char *acct_error)
{
  g_autofree char *out = NULL;
  g_autofree char *help_text = NULL;
  g_autofree char *sacct = NULL;
  g_autoptr(GError) error = NULL;

  if (help != NULL)
    {
      g_autofree char *file = g_strdup_printf ("%s/snakemake-help/%s.txt", FERRY_TEST_DATA, help);
      g_assert_true (g_file_get_contents (file, &help_text, NULL, &error));
      g_assert_no_error (error);
    }
  if (acct_error == NULL)
    sacct = g_strdup ("sacct=/usr/bin/sacct\nsacct.rc=0\nsacct.err=\n");
  else if (*acct_error == '\0')
    sacct = g_strdup ("sacct=\n");
  else
    sacct = g_strdup_printf ("sacct=/usr/bin/sacct\nsacct.rc=1\nsacct.err=%s\n", acct_error);
  out = g_strdup_printf ("snakemake=%s\nsbatch=/usr/bin/sbatch\nsqueue=/usr/bin/squeue\n"
                         "scancel=/usr/bin/scancel\nsinfo=/usr/bin/sinfo\n%s%s%s",
                         version, sacct, help_text ? "--help--\n" : "", help_text ? help_text : "");
  g_assert_true (ferry_slurm_probe_parse (out, p, &error));
  g_assert_no_error (error);
}

static GStrv
args_for (const FerrySlurmOptions *o, const FerrySlurmProbe *p, const char *user)
{
  g_auto(GStrv) user_args = user ? g_strsplit (user, " ", -1) : NULL;
  g_autoptr(GError) error = NULL;
  GStrv a = ferry_slurm_snakemake_args (o, p, (const char *const *) user_args, "login", &error);

  g_assert_no_error (error);
  return a;
}

static void
assert_states (const FerrySlurmProbe *p, const char *user, FerrySlurmStates want,
               gboolean want_add, const char *want_text)
{
  g_auto(GStrv) user_args = user ? g_strsplit (user, " ", -1) : NULL;
  g_autofree char *text = NULL;
  gboolean add = !want_add;

  g_assert_cmpint (ferry_slurm_job_states (p, (const char *const *) user_args, &add, &text), ==, want);
  g_assert_cmpint (add, ==, want_add);
  g_assert_cmpstr (text, ==, want_text);
}

static void
test_args_per_version (void)
{
  g_auto(FerrySlurmProbe) p = { 0 };
  g_auto(FerrySlurmOptions) o = { 0 };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) a7 = NULL, a8 = NULL, a9 = NULL, none = NULL;
  g_autofree char *why = NULL;

  probe_set (&p, "7.21.0", NULL, NULL);
  g_assert_cmpint (p.major, ==, 7);
  g_assert_cmpint (p.minor, ==, 21);
  g_assert_true (ferry_slurm_version_known (&p, NULL));
  a7 = args_for (&o, &p, NULL);
  assert_args (a7, "--slurm --jobs 100 --max-status-checks-per-second 1");

  o.jobs = 3;
  probe_set (&p, "8.30.0", "8.30.0-plugin-2.7.1", NULL);
  g_assert_true (p.executor_plugin);
  g_assert_true (p.status_command);
  a8 = args_for (&o, &p, NULL);
  assert_args (a8, "--executor slurm --jobs 3");

  probe_set (&p, "9.16.3", "9.16.3-plugin-2.7.1", NULL);
  g_assert_true (ferry_slurm_version_known (&p, NULL));
  a9 = args_for (&o, &p, NULL);
  assert_args (a9, "--executor slurm --jobs 3");

  /* A snakemake ferry does not know yet: one line, before anything runs. */
  probe_set (&p, "10.0.1", "9.16.3-plugin-2.7.1", NULL);
  g_assert_false (ferry_slurm_version_known (&p, &why));
  g_assert_cmpstr (why, ==, "newer than ferry knows (7.19 to 9.x)");
  g_assert_null (ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "snakemake 10.0.1 on login is newer than ferry knows"));
  g_clear_error (&error);

  /* 8 without the plugin (its real --help, the plugin hidden from it): the plugin is named. */
  probe_set (&p, "8.30.0", "8.30.0-no-plugin", NULL);
  g_assert_false (p.executor_plugin);
  none = ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error);
  g_assert_null (none);
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "snakemake-executor-plugin-slurm"));
  g_clear_error (&error);

  /* Too old for --slurm: 7.18 (and 6). */
  probe_set (&p, "7.18.2", NULL, NULL);
  g_clear_pointer (&why, g_free);
  g_assert_false (ferry_slurm_version_known (&p, &why));
  g_assert_cmpstr (why, ==, "older than 7.19, which --slurm needs");
  g_assert_null (ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "7.19"));
  g_assert_nonnull (strstr (error->message, "7.18.2"));
  g_clear_error (&error);
  probe_set (&p, "6.15.5", NULL, NULL);
  g_assert_null (ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_FAILED);
  g_clear_error (&error);
  probe_set (&p, "7.19.0", NULL, NULL);
  g_auto(GStrv) a719 = args_for (&o, &p, NULL);
  assert_args (a719, "--slurm --jobs 3 --max-status-checks-per-second 1");
}

/* Without SLURM accounting, the plugin must read job states with squeue, or its run never ends. */
static void
test_job_states (void)
{
  g_auto(FerrySlurmProbe) p = { 0 };
  g_auto(FerrySlurmOptions) o = { 0 };
  g_autoptr(GError) error = NULL;
  const char *releases[] = { "8.30.0", "9.16.3" };

  o.jobs = 3;
  /* snakemake 7 falls back on scontrol by itself. */
  probe_set (&p, "7.21.0", NULL, NULL);
  assert_states (&p, NULL, FERRY_SLURM_STATES_SACCT_SCONTROL, FALSE, "sacct, else scontrol (snakemake 7)");
  probe_set (&p, "7.21.0", NULL, NO_ACCOUNTING);
  assert_states (&p, NULL, FERRY_SLURM_STATES_SACCT_SCONTROL, FALSE,
                 "scontrol (snakemake 7; no accounting: sacct failed: " NO_ACCOUNTING ")");
  {
    g_auto(GStrv) a = args_for (&o, &p, NULL);
    assert_args (a, "--slurm --jobs 3 --max-status-checks-per-second 1");
  }

  for (guint i = 0; i < G_N_ELEMENTS (releases); i++)
    {
      g_autofree char *help = g_strdup_printf ("%s-plugin-2.7.1", releases[i]);
      g_auto(GStrv) with_acct = NULL, without = NULL, no_sacct = NULL, user_squeue = NULL,
                    user_eq = NULL, user_sacct = NULL;

      probe_set (&p, releases[i], help, NULL);
      assert_states (&p, NULL, FERRY_SLURM_STATES_SACCT, FALSE, "sacct");
      with_acct = args_for (&o, &p, NULL);
      assert_args (with_acct, "--executor slurm --jobs 3");

      probe_set (&p, releases[i], help, NO_ACCOUNTING);
      assert_states (&p, NULL, FERRY_SLURM_STATES_SQUEUE, TRUE,
                     "squeue (no accounting: sacct failed: " NO_ACCOUNTING ")");
      without = args_for (&o, &p, NULL);
      assert_args (without, "--executor slurm --jobs 3 --slurm-status-command squeue");

      /* The user said it already (either spelling): not twice. */
      assert_states (&p, "--slurm-status-command squeue", FERRY_SLURM_STATES_SQUEUE, FALSE,
                     "squeue (--slurm-status-command squeue)");
      user_squeue = args_for (&o, &p, "--keep-going --slurm-status-command squeue");
      assert_args (user_squeue, "--executor slurm --jobs 3");
      user_eq = args_for (&o, &p, "--slurm-status-command=squeue");
      assert_args (user_eq, "--executor slurm --jobs 3");
      /* The user's sacct is theirs: it goes through, and check says it fails. */
      assert_states (&p, "--slurm-status-command sacct", FERRY_SLURM_STATES_STUCK, FALSE,
                     "sacct (--slurm-status-command sacct), which fails here (no accounting: sacct"
                     " failed: " NO_ACCOUNTING ")");
      user_sacct = args_for (&o, &p, "--slurm-status-command sacct");
      assert_args (user_sacct, "--executor slurm --jobs 3");
      /* After `--` come targets, not options. */
      assert_states (&p, "-- --slurm-status-command", FERRY_SLURM_STATES_SQUEUE, TRUE,
                     "squeue (no accounting: sacct failed: " NO_ACCOUNTING ")");

      probe_set (&p, releases[i], help, "");
      assert_states (&p, NULL, FERRY_SLURM_STATES_SQUEUE, TRUE,
                     "squeue (no accounting: no sacct on the PATH)");
      no_sacct = args_for (&o, &p, NULL);
      assert_args (no_sacct, "--executor slurm --jobs 3 --slurm-status-command squeue");
    }

  /* A plugin before 2.0.1 (1.9.2's real --help) reads states with sacct only: fine with
   * accounting, refused without (its run would never end). */
  probe_set (&p, "8.30.0", "8.30.0-plugin-1.9.2", NULL);
  g_assert_true (p.executor_plugin);
  g_assert_false (p.status_command);
  {
    g_auto(GStrv) a = args_for (&o, &p, NULL);
    assert_args (a, "--executor slurm --jobs 3");
  }
  probe_set (&p, "8.30.0", "8.30.0-plugin-1.9.2", NO_ACCOUNTING);
  assert_states (&p, NULL, FERRY_SLURM_STATES_STUCK, FALSE,
                 "sacct only (this snakemake-executor-plugin-slurm has no --slurm-status-command),"
                 " which fails here (no accounting: sacct failed: " NO_ACCOUNTING ")");
  g_assert_null (ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "snakemake 8.30.0 on login would never see its SLURM jobs end"));
  g_clear_error (&error);

  /* sacct's exit status without a message. */
  g_assert_true (ferry_slurm_probe_parse ("snakemake=9.16.3\nsacct=/usr/bin/sacct\nsacct.rc=2\n", &p, &error));
  assert_states (&p, NULL, FERRY_SLURM_STATES_STUCK, FALSE,
                 "sacct only (this snakemake-executor-plugin-slurm has no --slurm-status-command),"
                 " which fails here (no accounting: sacct failed (exit 2))");
}

static void
test_args_resources (void)
{
  g_auto(FerrySlurmProbe) p = { 0 };
  g_auto(FerrySlurmOptions) o = { 0 };
  g_autoptr(GError) error = NULL;
  const char *const res[] = { "mem_mb=4000", "runtime=2h", "slurm_extra='--qos=high'",
                              "constraint=it's", NULL };
  g_auto(GStrv) a = NULL, b = NULL, c = NULL;

  probe_set (&p, "8.30.0", "8.30.0-plugin-2.7.1", NULL);
  o.jobs = 5;
  o.partition = g_strdup ("gpu-a100");
  o.resources = g_strdupv ((char **) res);
  a = ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error);
  g_assert_no_error (error);
  /* Without --account, never slurm_account (snakemake 7 would run sacctmgr). */
  assert_args (a, "--default-resources slurm_partition='gpu-a100' mem_mb=4000 runtime='2h'"
                  " slurm_extra='--qos=high' constraint='it\\'s' --executor slurm --jobs 5");

  o.account = g_strdup ("proj_42");
  g_clear_pointer (&o.resources, g_strfreev);
  probe_set (&p, "7.21.0", NULL, NULL);
  b = ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error);
  g_assert_no_error (error);
  assert_args (b, "--default-resources slurm_partition='gpu-a100' slurm_account='proj_42'"
                  " --slurm --jobs 5 --max-status-checks-per-second 1");

  /* snakemake 7 splits each pair at every '=': refused rather than garbled. */
  o.resources = g_strdupv ((char **) res);
  c = ferry_slurm_snakemake_args (&o, &p, NULL, "login", &error);
  g_assert_null (c);
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "slurm_extra"));
}

static void
test_options_check (void)
{
  const char *bad_res[] = { "mem_mb", "=4", "4x=1", "mem mb=1", "mem_mb=", "a=b\nc",
                            "slurm_account=x", NULL };
  const char *bad_names[] = { "", "a b", "x;rm", "p'q", "a,b", NULL };
  g_autoptr(GError) error = NULL;

  for (const char **r = bad_res; *r; r++)
    {
      g_auto(FerrySlurmOptions) o = { 0 };
      const char *one[] = { *r, NULL };

      o.resources = g_strdupv ((char **) one);
      g_assert_false (ferry_slurm_options_check (&o, &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
      g_clear_error (&error);
    }
  for (const char **n = bad_names; *n; n++)
    {
      g_auto(FerrySlurmOptions) o = { 0 };

      o.partition = g_strdup (*n);
      g_assert_false (ferry_slurm_options_check (&o, &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
      g_clear_error (&error);
      g_clear_pointer (&o.partition, g_free);
      o.account = g_strdup (*n);
      g_assert_false (ferry_slurm_options_check (&o, &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
      g_clear_error (&error);
    }
}

static void
test_probe (void)
{
  g_auto(FerrySlurmProbe) p = { 0 };
  g_autoptr(GError) error = NULL;
  g_auto(FerrySlurmOptions) o = { 0 };

  /* No SLURM on the remote: sbatch is named. */
  g_assert_true (ferry_slurm_probe_parse ("snakemake=7.21.0\nsbatch=\nsqueue=\nscancel=\nsinfo=\n",
                                          &p, &error));
  g_assert_no_error (error);
  g_assert_null (p.sbatch);
  g_assert_null (ferry_slurm_snakemake_args (&o, &p, NULL, "login.hpc", &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message, "sbatch is not found on login.hpc"));
  g_clear_error (&error);

  /* No snakemake. */
  g_assert_true (ferry_slurm_probe_parse ("snakemake=\nsbatch=/usr/bin/sbatch\n", &p, &error));
  g_assert_null (p.snakemake_version);
  g_assert_null (ferry_slurm_snakemake_args (&o, &p, NULL, "login.hpc", &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Garbage. */
  g_assert_false (ferry_slurm_probe_parse ("Welcome to the cluster!\n", &p, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_false (ferry_slurm_probe_parse ("snakemake=not a version\n", &p, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* The executor list, as argparse prints it, across lines or not. */
  g_assert_true (ferry_slurm_help_has_executor ("  --executor {local,dryrun,touch,slurm}, -e {...}\n"));
  g_assert_true (ferry_slurm_help_has_executor ("--executor {local, slurm, cluster-generic}"));
  g_assert_false (ferry_slurm_help_has_executor ("  --executor {local,dryrun,touch}, -e {local}\n"
                                                 "  --slurm-jobstep   ...{slurm}\n"));
  g_assert_false (ferry_slurm_help_has_executor ("--executor {local,slurm-jobstep}"));
  g_assert_false (ferry_slurm_help_has_executor (""));
}

/* check --host's answer: the probe's lines, each SLURM command's, MinJobAge, the free space. */
static void
test_report_parse (void)
{
  static const char out[]
    = "shell=/bin/tcsh\nsnakemake=9.16.3\nsbatch=/usr/bin/sbatch\nsqueue=/usr/bin/squeue\n"
      "scancel=/usr/bin/scancel\nsinfo=/usr/bin/sinfo\nsacct=/usr/bin/sacct\nsacct.rc=1\n"
      "sacct.err=" NO_ACCOUNTING "\nsinfo.rc=0\nsinfo: debug*|up|1:00:00|1|0/2/0/2\nsqueue.rc=0\n"
      "minjobage=60\ndir=/home/u\ndirup=1\n"
      "df: /dev/sda1 1000 10 990 1% /\n--help--\n  --executor {slurm,local}\n"
      "  --slurm-status-command VALUE\n";
  g_auto(FerryRemoteReport) r = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *script = ferry_remote_report_script ("~/ferry/x");

  g_assert_null (strchr (script, '\n'));
  g_assert_nonnull (strstr (script, "scontrol show config"));
  g_assert_true (ferry_remote_report_parse (out, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.min_job_age, ==, 60);
  g_assert_cmpint (r.probe.sacct_rc, ==, 1);
  g_assert_true (r.probe.status_command);
  g_assert_cmpint (r.squeue_rc, ==, 0);
  g_assert_cmpint (r.dir_avail_kb, ==, 990);
  g_assert_cmpint (ferry_slurm_job_states (&r.probe, NULL, NULL, &text), ==, FERRY_SLURM_STATES_SQUEUE);
  g_assert_cmpstr (text, ==, "squeue (no accounting: sacct failed: " NO_ACCOUNTING ")");

  /* No scontrol answer: unknown. */
  g_assert_true (ferry_remote_report_parse ("snakemake=7.21.0\nminjobage=\n", &r, &error));
  g_assert_cmpint (r.min_job_age, ==, -1);
}

static void
test_queue_parse (void)
{
  /* snakemake 7's log lines (job ids), then squeue: jobs 11 and 12 are the run's, 9 is another
   * run's, 13_[1-3] an array of this run, 20 named after an 8+ run id it logged. */
  static const char out[]
    = "Job 1 has been submitted with SLURM jobid 11 (log: .snakemake/slurm_logs/rule_a/11.log)\n"
      "Job 2 has been submitted with SLURM jobid 12 (log: .snakemake/slurm_logs/rule_a/12.log)\n"
      "Job 3 has been submitted with SLURM jobid 10 (log: x)\n"
      "Job 4 has been submitted with SLURM jobid 13 (log: x)\n"
      "SLURM run ID: 0b5f3c1e-7a6d-4f1e-9a43-6a6f1f0f8e21\n"
      "--squeue--\n"
      "9|R|snakejob_a_1\n"
      "11|R|snakejob_a_1\n"
      "12|PD|snakejob_a_2\n"
      "13_[1-3]|PD|x\n"
      "13_4|R|x\n"
      "20|CG|0b5f3c1e-7a6d-4f1e-9a43-6a6f1f0f8e21\n"
      "\n";
  FerrySlurmQueue q;
  g_auto(GStrv) queued = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *desc = NULL;

  g_assert_true (ferry_slurm_queue_parse (out, &q, &queued, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (q.submitted, ==, 5);
  g_assert_cmpuint (q.pending, ==, 2);
  g_assert_cmpuint (q.running, ==, 2);
  g_assert_cmpuint (q.done, ==, 1);
  assert_args (queued, "11 12 13 20");
  desc = ferry_slurm_queue_describe (&q);
  g_assert_cmpstr (desc, ==, "SLURM jobs: 2 pending, 2 running, 1 done");

  /* Nothing submitted yet, an empty queue. */
  g_clear_pointer (&queued, g_strfreev);
  g_assert_true (ferry_slurm_queue_parse ("--squeue--\n", &q, &queued, &error));
  g_assert_cmpuint (q.submitted + q.pending + q.running + q.done, ==, 0);
  g_assert_null (queued[0]);

  g_assert_false (ferry_slurm_queue_parse ("squeue: error: slurm_load_jobs error\n", &q, NULL,
                                           &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_false (ferry_slurm_queue_parse ("--squeue--\ngarbage\n", &q, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
}

static void
test_queue_command (void)
{
  g_autofree char *cmd = ferry_slurm_queue_command ("~/ferry/x y", ".ferry/runs/it's $(x)/log");
  g_autofree char *newest = ferry_slurm_queue_command ("/scratch/w", NULL);

  /* One line of /bin/sh (the capture hands it to /bin/sh); the paths in it are quoted. */
  g_assert_null (strchr (cmd, '\n'));
  g_assert_true (g_str_has_prefix (cmd, "cd ~/'ferry/x y' 2>/dev/null && l='.ferry/runs/it'\\''s $(x)/log';"));
  g_assert_nonnull (strstr (cmd, "squeue -h -u"));
  g_assert_nonnull (strstr (newest, ".snakemake/log/*.snakemake.log"));
}

static void
test_argv_is_slurm (void)
{
  const char *const a7[] = { "snakemake", "--cores", "all", "--slurm", "--jobs", "3", "--", "all", NULL };
  const char *const a8[] = { "snakemake", "--executor", "slurm", "--", "t", NULL };
  const char *const a8b[] = { "snakemake", "-e", "slurm", NULL };
  const char *const a8c[] = { "snakemake", "--executor=slurm", NULL };
  const char *const local[] = { "snakemake", "--cores", "4", "--", "--slurm", NULL };
  const char *const other[] = { "snakemake", "--executor", "cluster-generic", "slurm", NULL };

  g_assert_true (ferry_slurm_argv_is_slurm (a7));
  g_assert_true (ferry_slurm_argv_is_slurm (a8));
  g_assert_true (ferry_slurm_argv_is_slurm (a8b));
  g_assert_true (ferry_slurm_argv_is_slurm (a8c));
  g_assert_false (ferry_slurm_argv_is_slurm (local));
  g_assert_false (ferry_slurm_argv_is_slurm (other));
  g_assert_false (ferry_slurm_argv_is_slurm (NULL));
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/slurm/args-per-version", test_args_per_version);
  g_test_add_func ("/slurm/args-resources", test_args_resources);
  g_test_add_func ("/slurm/job-states", test_job_states);
  g_test_add_func ("/slurm/options-check", test_options_check);
  g_test_add_func ("/slurm/probe", test_probe);
  g_test_add_func ("/slurm/report-parse", test_report_parse);
  g_test_add_func ("/slurm/queue-parse", test_queue_parse);
  g_test_add_func ("/slurm/queue-command", test_queue_command);
  g_test_add_func ("/slurm/argv-is-slurm", test_argv_is_slurm);
  return g_test_run ();
}
