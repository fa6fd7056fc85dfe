/* ferry export: the existing inputs a target's jobs need, archived by libarchive (or listed). */
#include <unistd.h>

#include "ferry-builtins.h"
#include "core/archive.h"
#include "core/snakemake.h"

static char *opt_output;
static gboolean opt_force;
static gboolean opt_list;
static gboolean opt_null;
static gboolean opt_best;

static const GOptionEntry options[] = {
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output, "The archive to write; .tar.zst (default input_files.tar.zst), .tar.gz, .tgz or .tar", "FILE" },
  { "force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Replace FILE if it exists", NULL },
  { "list", 0, 0, G_OPTION_ARG_NONE, &opt_list, "Print the files instead of archiving them, one per line", NULL },
  { "null", '0', 0, G_OPTION_ARG_NONE, &opt_null, "With --list, end each name with NUL instead of a newline", NULL },
  { "best", 0, 0, G_OPTION_ARG_NONE, &opt_best, "A smaller archive, at many times the CPU (zstd level 12, gzip 9)", NULL },
  { NULL }
};

typedef struct
{
  guint members_total;
  guint64 bytes_total;
  gint64 start;
  gint64 last;
} Progress;

static void
format_size (char *buf, gsize n, double bytes)
{
  static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
  guint u = 0;

  while (bytes >= 1000 && u + 1 < G_N_ELEMENTS (units))
    {
      bytes /= 1000;
      u++;
    }
  g_snprintf (buf, n, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

/* One line redrawn in place on the terminal: files, bytes, rate, ETA, and a bar. */
static void
show_progress (guint64 bytes, guint members, gpointer user_data)
{
  Progress *p = user_data;
  gint64 now = g_get_monotonic_time ();
  double secs = (now - p->start) / 1e6;
  double rate = secs > 0 ? bytes / secs : 0;
  double frac = p->bytes_total ? (double) bytes / p->bytes_total : 1;
  char done[32], total[32], speed[32], bar[21];
  guint filled;

  if (now - p->last < 100000 && members < p->members_total)
    return;
  p->last = now;
  format_size (done, sizeof done, bytes);
  format_size (total, sizeof total, p->bytes_total);
  format_size (speed, sizeof speed, rate);
  filled = MIN (20, (guint) (frac * 20));
  memset (bar, '#', filled);
  memset (bar + filled, '-', 20 - filled);
  bar[20] = '\0';
  if (rate > 0 && bytes < p->bytes_total)
    {
      guint64 eta = (guint64) ((p->bytes_total - bytes) / rate);
      g_printerr ("\r[%s] %u/%u files  %s/%s  %s/s  ETA %" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT "  ",
                  bar, members, p->members_total, done, total, speed, eta / 60, eta % 60);
    }
  else
    g_printerr ("\r[%s] %u/%u files  %s/%s  %s/s            ", bar, members, p->members_total, done,
                total, speed);
}

static gboolean
outside_error (FerryPlan *plan, GError **error)
{
  g_autofree char *cwd = g_get_current_dir ();
  guint n = g_strv_length (plan->outside);
  g_autofree char *more = n > 1 ? g_strdup_printf (" (and %u more)", n - 1) : g_strdup ("");

  return ferry_throw (error, FERRY_ERROR_FAILED,
                      "input %s%s is outside the workflow directory %s: an archive holds only files "
                      "under it (move or link the file in)",
                      plan->outside[0], more, cwd);
}

gboolean
ferry_builtin_export (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET... [-- SNAKEMAKE_ARGS...]");
  g_autoptr(FerryPlan) plan = NULL;
  g_autoptr(FerryFileSet) set = NULL;
  const char *output;
  FerryArchiveFormat format;
  char **extra = NULL;
  char size[32];

  g_option_context_set_summary (context,
      "Archive the existing files TARGET's jobs read: the inputs of every job snakemake would\n"
      "run for TARGET (files or rule names) that none of those jobs makes, external inputs\n"
      "included and directory() inputs whole. Paths stay relative to the workflow directory,\n"
      "with their modes and mtimes. Of the arguments after --, those that shape the jobs\n"
      "(--forceall, --configfile FILE, --config, --until...; see ferry(1)) go to snakemake's\n"
      "dry run; the rest are left out.");
  extra = ferry_split_double_dash (&argc, argv);
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c, error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error, "export needs at least one TARGET (see ferry export --help)");
  if (opt_null && !opt_list)
    return ferry_usage_error (context, error, "-0 goes with --list");
  output = opt_output ? opt_output : "input_files.tar.zst";
  if (!opt_list)
    {
      g_autoptr(GError) local_error = NULL;
      if (!ferry_archive_format_for_path (output, &format, &local_error))
        return ferry_usage_error (context, error, "%s", local_error->message);
      if (!opt_force && g_file_test (output, G_FILE_TEST_EXISTS))
        return ferry_throw (error, FERRY_ERROR_FAILED, "%s already exists: pass --force to replace it",
                            output);
    }

  plan = ferry_snakemake_plan ((const char *const *) argv + 1, (const char *const *) extra, c, error);
  if (plan == NULL)
    return FALSE;
  if (plan->outside[0] != NULL)
    return outside_error (plan, error);
  set = ferry_file_set_new ((const char *const *) plan->inputs, error);
  if (set == NULL)
    return FALSE;
  if (plan->n_jobs == 0)
    g_printerr ("note: nothing would run for this target (its outputs are up to date), so it needs no "
                "input; add -- --forceall to export what a full rerun reads\n");

  if (opt_list)
    {
      for (guint i = 0; i < set->members->len; i++)
        {
          FerryArchiveMember *m = set->members->pdata[i];
          fputs (m->path, stdout);
          if (S_ISDIR (m->st.st_mode))
            fputc ('/', stdout);
          fputc (opt_null ? '\0' : '\n', stdout);
        }
      return TRUE;
    }

  format_size (size, sizeof size, set->total_bytes);
  if (inv->dry_run)
    {
      g_print ("would archive %u files (%s) into %s\n", set->members->len, size, output);
      return TRUE;
    }
  {
    Progress p = { set->members->len, set->total_bytes, g_get_monotonic_time (), 0 };
    gboolean tty = isatty (STDERR_FILENO);
    gboolean ok = ferry_archive_write_file (output, set, opt_force, opt_best,
                                            tty ? show_progress : NULL, &p, c, error);
    if (tty)
      g_printerr ("\n");
    if (!ok)
      return FALSE;
  }
  g_print ("exported %u files (%s) to %s\n", set->members->len, size, output);
  return TRUE;
}
