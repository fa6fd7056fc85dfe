/* ferry archive: the workflow archive of the reference page (snakemake --archive), with its pitfalls
 * turned into errors: no overwrite, git required, nothing from outside the working directory. */
#include <errno.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "ferry-builtins.h"
#include "core/spawn.h"
#include "core/snakemake.h"

static char *opt_output;
static gboolean opt_force;
static gboolean opt_use_conda;

static const GOptionEntry options[] = {
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output, "The archive to write; .tar.gz (default workflow_files.tar.gz), .tar, .tar.bz2 or .tar.xz", "FILE" },
  { "force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Replace FILE if it exists", NULL },
  { "use-conda", 0, 0, G_OPTION_ARG_NONE, &opt_use_conda, "Also archive the rules' conda environments (snakemake --use-conda; needs conda)", NULL },
  { NULL }
};

static const char *const formats[] = { ".tar", ".tar.gz", ".tar.bz2", ".tar.xz", NULL };

/* Snakemake only warns about a path outside the working directory and leaves it out. */
static char *
first_left_out (const char *out)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *s = strstr (lines[i], "cannot be archived: not within working directory");
      if (s != NULL && g_str_has_prefix (lines[i], "Path "))
        return g_strndup (lines[i] + 5, MAX (s - lines[i] - 6, 0));
    }
  return NULL;
}

static gboolean
check_git (GCancellable *c, GError **error)
{
  const char *argv[] = { "git", "rev-parse", "--is-inside-work-tree", NULL };
  g_autofree char *git = g_find_program_in_path ("git");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  int status = 0;

  if (git == NULL)
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "git is not installed: snakemake --archive takes the workflow's files from git "
                        "(apt-get install git)");
  if (!ferry_spawn_capture (argv, NULL, NULL, &out, &err, &status, c, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL) || !g_str_has_prefix (out, "true"))
    g_printerr ("note: %s is not in a git repository, so the archive holds only the files snakemake "
                "knows (Snakefiles, scripts, config, env files, external inputs); git add the rest "
                "to have it archived too\n",
                cwd);
  return TRUE;
}

gboolean
ferry_builtin_archive (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET... [-- SNAKEMAKE_ARGS...]");
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) sm_argv = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmpdir = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *both = NULL;
  g_autofree char *left_out = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *output;
  char **extra = NULL;
  const char *known = NULL;
  struct stat st = { 0 };
  int status = 0;

  g_option_context_set_summary (context,
      "Archive the workflow for TARGET the way the reference page does, with snakemake --archive:\n"
      "the files git tracks, the Snakefiles, scripts and config, and the external inputs. git\n"
      "must be installed, and only files under the working directory go in.\n"
      "Arguments after -- go to snakemake.");
  extra = ferry_split_double_dash (&argc, argv);
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c, error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error, "archive needs at least one TARGET (see ferry archive --help)");
  output = opt_output ? opt_output : "workflow_files.tar.gz";
  for (guint i = 0; formats[i] != NULL && known == NULL; i++)
    if (g_str_has_suffix (output, formats[i]))
      known = formats[i];
  if (known == NULL)
    return ferry_usage_error (context, error,
                              "snakemake --archive cannot write \"%s\": name it .tar.gz, .tar, .tar.bz2 or .tar.xz",
                              output);
  if (!opt_force && g_file_test (output, G_FILE_TEST_EXISTS))
    return ferry_throw (error, FERRY_ERROR_FAILED, "%s already exists: pass --force to replace it", output);
  if (!check_git (c, error))
    return FALSE;

  /* snakemake writes into a fresh directory next to FILE; the archive is renamed into place only
   * once complete, so a failure leaves nothing behind. */
  dir = g_path_get_dirname (output);
  /* snakemake 8 and 9 read the format from all of the name's suffixes: "wf-v1.2.tar.gz" is no
   * .tar.gz to them, so the name it writes is plain. */
  base = g_strconcat ("workflow", known, NULL);
  tmpdir = g_build_filename (dir, ".ferry-archive-XXXXXX", NULL);
  if (!inv->dry_run && g_mkdtemp_full (tmpdir, 0700) == NULL)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create a directory in %s: %s", dir, g_strerror (errno));
  tmp = g_build_filename (tmpdir, base, NULL);

  g_strv_builder_add_many (b, "snakemake", "--cores", "1", "--nocolor", "--archive", tmp, NULL);
  if (opt_use_conda)
    g_strv_builder_add (b, "--use-conda");
  if (extra != NULL)
    g_strv_builder_addv (b, (const char **) extra);
  g_strv_builder_add (b, "--");
  g_strv_builder_addv (b, (const char **) argv + 1);
  sm_argv = g_strv_builder_end (b);
  if (inv->dry_run)
    {
      g_autofree char *shown = ferry_argv_display ((const char *const *) sm_argv);
      g_print ("would run: %s\nthen rename the archive to %s\n", shown, output);
      return TRUE;
    }

  if (ferry_spawn_capture ((const char *const *) sm_argv, NULL, NULL, &out, &err, &status, c, &local_error))
    {
      both = g_strconcat (out, "\n", err, NULL);
      left_out = first_left_out (both);
      if (!g_spawn_check_wait_status (status, NULL))
        ferry_snakemake_throw ("snakemake --archive", status, both, &local_error);
      else if (left_out != NULL)
        ferry_throw (&local_error, FERRY_ERROR_FAILED,
                     "%s is outside the working directory, so snakemake --archive leaves it out: move "
                     "it under the workflow directory (or link it in)",
                     left_out);
      else if (stat (tmp, &st) != 0 || (opt_force ? rename (tmp, output) : link (tmp, output)) != 0)
        ferry_throw (&local_error, FERRY_ERROR_FAILED, "cannot write %s: %s", output,
                     errno == EEXIST ? "it appeared meanwhile (pass --force to replace it)" : g_strerror (errno));
    }
  g_unlink (tmp);
  g_rmdir (tmpdir);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_print ("archived the workflow (%" G_GINT64_FORMAT " bytes) to %s\n", (gint64) st.st_size, output);
  return TRUE;
}
