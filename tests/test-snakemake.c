/* Unit tests for core/snakemake and core/archive: the plan from recorded job records, the snakemake
 * error line, the archive format by name, and the file set and writer (read back with libarchive). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "core/archive.h"
#include "core/snakemake.h"
#include "test-init.h"

/* Files that "exist" for the plan tests, whatever the disk holds. */
static gboolean
fake_exists (const char *path, gpointer user_data)
{
  return g_strv_contains ((const char *const *) user_data, path);
}

static void
assert_strv (GStrv got, const char *const *want)
{
  g_autofree char *g = g_strjoinv ("|", got);
  g_autofree char *w = g_strjoinv ("|", (char **) want);

  g_assert_cmpstr (g, ==, w);
}

static void
test_plan_closure (void)
{
  /* Recorded from snakemake 7.21's job_info through templates/snakemake-jobs.py. */
  static const char records[] =
    "{\"job\": {\"id\": 2, \"rule\": \"a\", \"input\": [\"raw/sample é 1.txt\", \"raw/x,y.txt\", \"ref\"], \"output\": [\"mid/a.txt\"], \"log\": []}}\n"
    "{\"job\": {\"id\": 1, \"rule\": \"final\", \"input\": [\"mid/a.txt\", \"./ref/sub/f.fa\", \"/work/wf/sheet \\\"q\\\".tsv\", \"/data/ext.fa\"], \"output\": [\"out/final.txt\", \"out/dir\"], \"log\": []}}\n"
    "{\"job\": {\"id\": 3, \"rule\": \"b\", \"input\": [\"out/dir/part.txt\", \"missing.txt\"], \"output\": [\"b.txt\"]}}\n"
    "{\"job\": {\"id\": 0, \"rule\": \"all\", \"input\": [\"out/final.txt\", \"b.txt\"], \"output\": [], \"log\": []}}\n"
    "\n"
    "{\"sources\": [\"Snakefile\", \"scripts/s.py\", \"../elsewhere.smk\"]}\n";
  const char *const exists[] = { "raw/sample é 1.txt", "raw/x,y.txt", "ref", "ref/sub/f.fa", "sheet \"q\".tsv",
                                 "/data/ext.fa", "Snakefile", "scripts/s.py", "scripts", "mid/a.txt", NULL };
  const char *const inputs[] = { "raw/sample é 1.txt", "raw/x,y.txt", "ref", "ref/sub/f.fa", "sheet \"q\".tsv", NULL };
  const char *const outputs[] = { "mid/a.txt", "out/final.txt", "out/dir", "b.txt", NULL };
  const char *const outside[] = { "/data/ext.fa", NULL };
  const char *const workflow[] = { "Snakefile", "scripts/s.py", "scripts", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryPlan) plan = ferry_snakemake_plan_from_records (records, strlen (records), "/work/wf",
                                                                  fake_exists, (gpointer) exists, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (plan->n_jobs, ==, 4);
  /* mid/a.txt exists but a job that runs makes it; out/dir/part.txt lies in a directory() output. */
  assert_strv (plan->inputs, inputs);
  assert_strv (plan->outputs, outputs);
  assert_strv (plan->outside, outside);
  assert_strv (plan->workflow, workflow);
}

static void
test_plan_twice (void)
{
  /* Snakemake 8 hands each record to its log handlers twice: a job counts once. */
  static const char records[] =
    "{\"job\": {\"id\": 1, \"rule\": \"a\", \"input\": [\"in.txt\"], \"output\": [\"a.txt\"], \"threads\": 4}}\n"
    "{\"job\": {\"id\": 1, \"rule\": \"a\", \"input\": [\"in.txt\"], \"output\": [\"a.txt\"], \"threads\": 4}}\n"
    "{\"job\": {\"id\": 2, \"rule\": \"b\", \"input\": [\"a.txt\"], \"output\": [\"b.txt\"], \"threads\": 8}}\n"
    "{\"job\": {\"id\": 2, \"rule\": \"b\", \"input\": [\"a.txt\"], \"output\": [\"b.txt\"], \"threads\": 8}}\n";
  const char *const exists[] = { "in.txt", NULL };
  const char *const inputs[] = { "in.txt", NULL };
  const char *const outputs[] = { "a.txt", "b.txt", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryPlan) plan = ferry_snakemake_plan_from_records (records, strlen (records), "/work/wf",
                                                                  fake_exists, (gpointer) exists, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (plan->n_jobs, ==, 2);
  g_assert_cmpuint (plan->needs.threads, ==, 8);
  assert_strv (plan->inputs, inputs);
  assert_strv (plan->outputs, outputs);
}

static void
test_dag_args (void)
{
  static const struct
  {
    const char *args;
    const char *dag;
  } cases[] = {
    { "", "" },
    { "--slurm-status-command squeue", "" },
    { "--config a=1 b=-2 --slurm-status-command squeue --forceall", "--config a=1 b=-2 --forceall" },
    { "--executor slurm --jobs 4 --configfile c.yaml d.yaml -q", "--configfile c.yaml d.yaml" },
    { "--set-threads=a=8 --profile p --until r1 r2 --cores 8", "--set-threads=a=8 --until r1 r2 --cores 8" },
    { "--jobs 8 --slurm-partition=short -c 4", "-c 4" },
    { "-C x=1 -s Other.smk --use-conda --sdm conda -R a", "-C x=1 -s Other.smk -R a" },
    { "--default-resources mem_mb=100 --keep-going --set-resources a:mem_mb=5",
      "--default-resources mem_mb=100 --set-resources a:mem_mb=5" },
    { "--max-threads -1 --forcerun", "--max-threads -1 --forcerun" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(GStrv) args = *cases[i].args ? g_strsplit (cases[i].args, " ", -1) : g_new0 (char *, 1);
      g_auto(GStrv) dag = NULL;
      g_autofree char *got = NULL;

      dag = ferry_snakemake_dag_args ((const char *const *) args);
      got = g_strjoinv (" ", dag);
      g_assert_cmpstr (got, ==, cases[i].dag);
    }
}

static void
test_version_support (void)
{
  int major = 0, minor = 0;

  g_assert_true (ferry_snakemake_parse_version ("9.16.3", &major, &minor));
  g_assert_cmpint (major, ==, 9);
  g_assert_cmpint (minor, ==, 16);
  g_assert_false (ferry_snakemake_parse_version ("snakemake", NULL, NULL));
  g_assert_cmpint (ferry_snakemake_support (7, 18), ==, FERRY_SNAKEMAKE_TOO_OLD);
  g_assert_cmpint (ferry_snakemake_support (7, 19), ==, FERRY_SNAKEMAKE_SUPPORTED);
  g_assert_cmpint (ferry_snakemake_support (8, 30), ==, FERRY_SNAKEMAKE_SUPPORTED);
  g_assert_cmpint (ferry_snakemake_support (9, 16), ==, FERRY_SNAKEMAKE_SUPPORTED);
  g_assert_cmpint (ferry_snakemake_support (10, 0), ==, FERRY_SNAKEMAKE_UNKNOWN);
}

static void
test_plan_bad_records (void)
{
  static const char *const bad[] = {
    "not json\n",
    "[1, 2]\n",
    "{\"job\": 3}\n",
    "{\"job\": {\"input\": \"a string, not a list\"}}\n",
    "{\"job\": {\"input\": [1]}}\n",
    "{\"job\": {\"output\": [\"\"]}}\n",
    "{\"sources\": {\"a\": 1}}\n",
    "{\"job\": {\"input\": [\"a\\u0000b\"]}}\n",
    NULL,
  };
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(FerryPlan) plan = ferry_snakemake_plan_from_records (bad[i], strlen (bad[i]), "/w", NULL, NULL, &error);
      g_assert_null (plan);
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
    }
}

static void
test_error_summary (void)
{
  static const struct { const char *err, *want; } cases[] = {
    { "Building DAG of jobs...\nMissingRuleException:\nNo rule to produce nope (if you use input functions make sure that they don't raise unexpected exceptions).\n",
      "MissingRuleException: No rule to produce nope (if you use input functions make sure that they don't raise unexpected exceptions)." },
    { "Error: no Snakefile found, tried Snakefile, snakefile, workflow/Snakefile, workflow/snakefile.\n",
      "Error: no Snakefile found, tried Snakefile, snakefile, workflow/Snakefile, workflow/snakefile." },
    { "SyntaxError in file /w/Snakefile, line 3:\ninvalid syntax:\nNone\n  File \"/w/Snakefile\", line 3\n",
      "SyntaxError in file /w/Snakefile, line 3: invalid syntax: None" },
    { "something\nlast words\n\n", "last words" },
    { "", "" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = ferry_snakemake_error_summary (cases[i].err);
      g_assert_cmpstr (got, ==, cases[i].want);
    }
}

static void
test_archive_format (void)
{
  static const struct { const char *name; int format; } cases[] = {
    { "a.tar.zst", FERRY_ARCHIVE_ZSTD }, { "a.tzst", FERRY_ARCHIVE_ZSTD }, { "d/a.tar.gz", FERRY_ARCHIVE_GZIP },
    { "a.tgz", FERRY_ARCHIVE_GZIP }, { "a.tar", FERRY_ARCHIVE_NONE }, { "a.rar", -1 }, { "a.zst", -1 },
    { "a.tar.bz2", -1 }, { "", -1 }, { "tar", -1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      FerryArchiveFormat f = FERRY_ARCHIVE_NONE;
      gboolean ok = ferry_archive_format_for_path (cases[i].name, &f, &error);
      g_assert_cmpint (ok, ==, cases[i].format >= 0);
      if (ok)
        g_assert_cmpint (f, ==, cases[i].format);
      else
        g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
    }
}

static void
write_file (const char *path, const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
}

/* The file set walks directories in name order, keeps an empty directory and a symlink inside a
 * directory, follows a symlink named directly, and the archive reads back as written. */
static void
test_archive_roundtrip (void)
{
  const char *const paths[] = { "./top.txt", "d", "link-to-top", "d/b.txt", "empty", NULL };
  const char *const want[] = { "top.txt", "d/a.txt", "d/b.txt", "d/in-link", "link-to-top", "empty/", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryFileSet) set = NULL;
  g_autoptr(FerryArchiveRead) a = archive_read_new ();
  struct archive_entry *entry;
  g_autofree char *work = g_dir_make_tmp ("ferry-test-archive-XXXXXX", NULL);
  guint n = 0;

  g_assert_cmpint (chdir (work), ==, 0);
  g_assert_cmpint (g_mkdir ("d", 0755), ==, 0);
  g_assert_cmpint (g_mkdir ("empty", 0755), ==, 0);
  write_file ("top.txt", "top\n");
  write_file ("d/a.txt", "a\n");
  write_file ("d/b.txt", "bee\n");
  g_assert_cmpint (symlink ("../top.txt", "d/in-link"), ==, 0);
  g_assert_cmpint (symlink ("top.txt", "link-to-top"), ==, 0);

  set = ferry_file_set_new (paths, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->members->len, ==, 6);
  g_assert_cmpuint (set->total_bytes, ==, 4 + 2 + 4 + 4);
  g_assert_true (ferry_archive_write_file ("out.tar.gz", set, FALSE, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  /* Without --force the archive is not replaced. */
  g_assert_false (ferry_archive_write_file ("out.tar.gz", set, FALSE, FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_FAILED);

  archive_read_support_filter_all (a);
  archive_read_support_format_all (a);
  g_assert_cmpint (archive_read_open_filename (a, "out.tar.gz", 4096), ==, ARCHIVE_OK);
  while (archive_read_next_header (a, &entry) == ARCHIVE_OK)
    {
      const char *name = archive_entry_pathname (entry);
      g_assert_cmpstr (name, ==, want[n]);
      if (g_str_equal (name, "d/in-link"))
        g_assert_cmpstr (archive_entry_symlink (entry), ==, "../top.txt");
      if (g_str_equal (name, "link-to-top"))
        g_assert_cmpint (archive_entry_filetype (entry), ==, AE_IFREG);
      if (g_str_equal (name, "d/b.txt"))
        {
          char buf[16] = { 0 };
          g_assert_cmpint (archive_read_data (a, buf, sizeof buf), ==, 4);
          g_assert_cmpstr (buf, ==, "bee\n");
        }
      n++;
    }
  g_assert_cmpuint (n, ==, 6);
}

static void
test_archive_refuses (void)
{
  const char *const outside[] = { "../x", NULL };
  const char *const absolute[] = { "/etc/hostname", NULL };
  const char *const missing[] = { "nope", NULL };
  const char *const *cases[] = { outside, absolute, missing };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(FerryFileSet) set = ferry_file_set_new (cases[i], &error);
      g_assert_null (set);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, cases[i][0]));
    }
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/snakemake/plan-closure", test_plan_closure);
  g_test_add_func ("/snakemake/plan-bad-records", test_plan_bad_records);
  g_test_add_func ("/snakemake/plan-twice", test_plan_twice);
  g_test_add_func ("/snakemake/dag-args", test_dag_args);
  g_test_add_func ("/snakemake/version-support", test_version_support);
  g_test_add_func ("/snakemake/error-summary", test_error_summary);
  g_test_add_func ("/archive/format", test_archive_format);
  g_test_add_func ("/archive/roundtrip", test_archive_roundtrip);
  g_test_add_func ("/archive/refuses", test_archive_refuses);
  return g_test_run ();
}
