/* The local snakemake: its version, and a target's plan read from its job records (JSON lines written
 * by templates/snakemake-jobs.py), so file names with spaces, commas and quotes come through intact. */
#include <glib/gstdio.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "snakemake.h"
#include "spawn.h"

/* `snakemake --version` costs half of a small dry run, so the answer is kept per executable in
 * the user's cache dir, keyed by where it is and its inode, size and mtime: an upgrade (pip,
 * conda, apt) writes a new entry script, and so a new key. */
static char *
version_cache_path (void)
{
  return g_build_filename (g_get_user_cache_dir (), "ferry", "snakemake-versions", NULL);
}

static char *
version_cache_key (const char *exe)
{
  GStatBuf st;

  if (g_stat (exe, &st) != 0)
    return NULL;
  return g_strdup_printf ("%ju:%ju:%jd:%jd.%09ld", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino,
                          (intmax_t) st.st_size, (intmax_t) st.st_mtim.tv_sec,
                          (long) st.st_mtim.tv_nsec);
}

static char *
version_cache_lookup (const char *exe, const char *key)
{
  g_autofree char *path = version_cache_path ();
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *stored = NULL;

  if (key == NULL || !g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL))
    return NULL;
  stored = g_key_file_get_string (kf, exe, "key", NULL);
  if (g_strcmp0 (stored, key) != 0)
    return NULL;
  return g_key_file_get_string (kf, exe, "version", NULL);
}

/* Best effort: a cache that cannot be written only costs the next command a --version. Entries of
 * executables that are gone are dropped. */
static void
version_cache_store (const char *exe, const char *key, const char *version)
{
  g_autofree char *path = version_cache_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_auto(GStrv) groups = NULL;
  g_autofree char *data = NULL;

  if (key == NULL || g_mkdir_with_parents (dir, 0700) != 0)
    return;
  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL);
  groups = g_key_file_get_groups (kf, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    if (!g_file_test (groups[i], G_FILE_TEST_EXISTS))
      g_key_file_remove_group (kf, groups[i], NULL);
  g_key_file_set_string (kf, exe, "key", key);
  g_key_file_set_string (kf, exe, "version", version);
  data = g_key_file_to_data (kf, NULL, NULL);
  g_file_set_contents (path, data, -1, NULL);
}

/* Forgets what the cache says of the snakemake on PATH (its flags were refused). */
static void
version_cache_forget (void)
{
  g_autofree char *exe = g_find_program_in_path ("snakemake");
  g_autofree char *path = version_cache_path ();
  g_autoptr(GKeyFile) kf = g_key_file_new ();

  if (exe == NULL || !g_key_file_load_from_file (kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL)
      || !g_key_file_remove_group (kf, exe, NULL))
    return;
  g_key_file_save_to_file (kf, path, NULL);
}

gboolean
ferry_snakemake_parse_version (const char *text, int *out_major, int *out_minor)
{
  char *end = NULL;
  gint64 major, minor = 0;

  major = g_ascii_strtoll (text, &end, 10);
  if (end == text || major < 1 || major > 1000)
    return FALSE;
  if (*end == '.')
    minor = g_ascii_strtoll (end + 1, NULL, 10);
  if (minor < 0 || minor > 100000)
    return FALSE;
  if (out_major)
    *out_major = (int) major;
  if (out_minor)
    *out_minor = (int) minor;
  return TRUE;
}

gboolean
ferry_snakemake_version (int *out_major, int *out_minor, char **out_version,
                         GCancellable *cancellable, GError **error)
{
  g_autofree char *exe = g_find_program_in_path ("snakemake");
  g_autofree char *key = exe ? version_cache_key (exe) : NULL;
  g_autofree char *out = exe ? version_cache_lookup (exe, key) : NULL;

  if (out == NULL || !ferry_snakemake_parse_version (out, NULL, NULL))
    {
      const char *argv[] = { "snakemake", "--version", NULL };

      g_clear_pointer (&out, g_free);
      if (!ferry_spawn_check (argv, NULL, NULL, &out, cancellable, error))
        return FALSE;
      g_strstrip (out);
      if (!ferry_snakemake_parse_version (out, NULL, NULL))
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "`snakemake --version` printed \"%s\", not a version", out);
      if (exe != NULL)
        version_cache_store (exe, key, out);
    }
  ferry_snakemake_parse_version (out, out_major, out_minor);
  if (out_version)
    *out_version = g_steal_pointer (&out);
  return TRUE;
}

FerrySnakemakeSupport
ferry_snakemake_support (int major, int minor)
{
  if (major < 7 || (major == 7 && minor < 19))
    return FERRY_SNAKEMAKE_TOO_OLD;
  if (major > FERRY_SNAKEMAKE_NEWEST_MAJOR)
    return FERRY_SNAKEMAKE_UNKNOWN;
  return FERRY_SNAKEMAKE_SUPPORTED;
}

void
ferry_plan_free (FerryPlan *plan)
{
  if (plan == NULL)
    return;
  g_strfreev (plan->workflow);
  g_strfreev (plan->inputs);
  g_strfreev (plan->outputs);
  g_strfreev (plan->outside);
  g_free (plan);
}

/* A list that keeps the first occurrence of each string, in order. */
typedef struct
{
  GPtrArray *items;
  GHashTable *set;
} OrderedSet;

static void
ordered_set_init (OrderedSet *s)
{
  s->items = g_ptr_array_new_with_free_func (g_free);
  s->set = g_hash_table_new (g_str_hash, g_str_equal);
}

static void
ordered_set_add (OrderedSet *s, const char *item)
{
  char *copy;

  if (g_hash_table_contains (s->set, item))
    return;
  copy = g_strdup (item);
  g_ptr_array_add (s->items, copy);
  g_hash_table_add (s->set, copy);
}

static GStrv
ordered_set_steal (OrderedSet *s)
{
  g_hash_table_unref (s->set);
  g_ptr_array_add (s->items, NULL);
  return (GStrv) g_ptr_array_free (s->items, FALSE);
}

/* `path` relative to workdir when it lies inside it (canonical, no `./`), else NULL. */
static char *
inside_workdir (const char *path, const char *workdir)
{
  g_autofree char *abs = g_canonicalize_filename (path, workdir);
  gsize n = strlen (workdir);

  if (strncmp (abs, workdir, n) == 0 && abs[n] == '/' && abs[n + 1] != '\0')
    return g_strdup (abs + n + 1);
  if (g_str_equal (workdir, "/") && abs[1] != '\0')
    return g_strdup (abs + 1);
  return NULL;
}

/* Made by one of the jobs: the path itself, or a path inside a directory() output. */
static gboolean
is_produced (GHashTable *produced, const char *rel)
{
  g_autofree char *p = g_strdup (rel);
  char *slash;

  if (g_hash_table_contains (produced, p))
    return TRUE;
  while ((slash = strrchr (p, '/')) != NULL)
    {
      *slash = '\0';
      if (g_hash_table_contains (produced, p))
        return TRUE;
    }
  return FALSE;
}

static gboolean
exists_on_disk (const char *path, gpointer user_data)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* The strings of a JSON array member (missing: none); anything else is an error. */
static gboolean
string_array (json_t *obj, const char *key, guint line, GPtrArray *out, GError **error)
{
  json_t *arr = json_object_get (obj, key);
  size_t i;
  json_t *v;

  if (arr == NULL)
    return TRUE;
  if (!json_is_array (arr))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "snakemake's job record %u: \"%s\" is not a list", line, key);
  json_array_foreach (arr, i, v)
    {
      if (!json_is_string (v) || json_string_length (v) == 0
          || strlen (json_string_value (v)) != json_string_length (v))
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "snakemake's job record %u: \"%s\" holds something not a file name",
                            line, key);
      g_ptr_array_add (out, (gpointer) json_string_value (v));
    }
  return TRUE;
}

/* A number and the unit after it (spaces allowed between, nothing after). */
static gboolean
number_and_unit (const char *text, double *out_value, char **out_unit)
{
  g_autofree char *copy = g_strstrip (g_strdup (text ? text : ""));
  char *end = NULL;
  double v;

  if (*copy == '\0' || !(g_ascii_isdigit (*copy) || *copy == '.'))
    return FALSE;
  v = g_ascii_strtod (copy, &end);
  if (end == copy || !isfinite (v) || v < 0)
    return FALSE;
  while (g_ascii_isspace (*end))
    end++;
  *out_value = v;
  *out_unit = g_ascii_strdown (end, -1);
  return TRUE;
}

gboolean
ferry_snakemake_parse_size_mb (const char *text, gint64 *out_mb)
{
  static const struct
  {
    const char *unit;
    double bytes;
  } units[] = {
    { "", 1 },           { "b", 1 },           { "bytes", 1 },
    { "k", 1e3 },        { "kb", 1e3 },        { "kib", 1024.0 },
    { "m", 1e6 },        { "mb", 1e6 },        { "mib", 1048576.0 },
    { "g", 1e9 },        { "gb", 1e9 },        { "gib", 1073741824.0 },
    { "t", 1e12 },       { "tb", 1e12 },       { "tib", 1099511627776.0 },
    { "p", 1e15 },       { "pb", 1e15 },       { "pib", 1125899906842624.0 },
  };
  g_autofree char *unit = NULL;
  double v, mb;

  if (!number_and_unit (text, &v, &unit))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (unit, units[i].unit))
      {
        mb = ceil (v * units[i].bytes / 1e6);
        if (mb > (double) G_MAXINT64 / 2)
          return FALSE;
        *out_mb = (gint64) mb;
        return TRUE;
      }
  return FALSE;
}

gboolean
ferry_snakemake_parse_runtime_min (const char *text, gint64 *out_min)
{
  static const struct
  {
    const char *unit;
    double seconds;
  } units[] = {
    { "", 1 },          { "s", 1 },         { "sec", 1 },        { "secs", 1 },
    { "second", 1 },    { "seconds", 1 },   { "m", 60 },         { "min", 60 },
    { "mins", 60 },     { "minute", 60 },   { "minutes", 60 },   { "h", 3600 },
    { "hour", 3600 },   { "hours", 3600 },  { "d", 86400 },      { "day", 86400 },
    { "days", 86400 },  { "w", 604800 },    { "week", 604800 },  { "weeks", 604800 },
  };
  g_autofree char *unit = NULL;
  double v, min;

  if (!number_and_unit (text, &v, &unit))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (unit, units[i].unit))
      {
        min = ceil (v * units[i].seconds / 60);
        if (min > (double) G_MAXINT64 / 2)
          return FALSE;
        *out_min = (gint64) min;
        return TRUE;
      }
  return FALSE;
}

/* Whole MB, rounded up; but a binary unit (mem_mib) rounds down, since snakemake derives mem_mib
 * from mem_mb rounding up, and the two should agree. */
static gint64
mb_round (double mb, double unit_mb)
{
  if (unit_mb != floor (unit_mb))
    return (gint64) floor (mb);
  return (gint64) ceil (mb);
}

/* A resource value in MB: a number in `unit_mb` MB, or a string with its own unit (a bare number
 * string is taken in `unit_mb` MB too, as snakemake's --resources mem_mb=... gives it). */
static gboolean
value_mb (json_t *v, double unit_mb, gint64 *out_mb)
{
  double x;

  if (json_is_integer (v) || json_is_real (v))
    {
      x = json_number_value (v);
      if (!isfinite (x) || x < 0 || x * unit_mb > (double) G_MAXINT64 / 2)
        return FALSE;
      *out_mb = mb_round (x * unit_mb, unit_mb);
      return TRUE;
    }
  if (!json_is_string (v))
    return FALSE;
  if (g_regex_match_simple ("^\\s*[0-9]+(\\.[0-9]*)?\\s*$", json_string_value (v), 0, 0))
    {
      x = g_ascii_strtod (json_string_value (v), NULL);
      if (!isfinite (x) || x * unit_mb > (double) G_MAXINT64 / 2)
        return FALSE;
      *out_mb = mb_round (x * unit_mb, unit_mb);
      return TRUE;
    }
  return ferry_snakemake_parse_size_mb (json_string_value (v), out_mb);
}

/* The largest of a job's values for one quantity, given under any of its names ("mem_mb",
 * "mem_gib"...). The bare name (mem="100G") counts only when no other is there: snakemake 8 and 9
 * derive it from mem_mb for people ("2.15 GB" from mem_mib=2048), rounded. */
static gint64
largest_mb (json_t *resources, const char *base)
{
  static const struct
  {
    const char *suffix;
    double unit_mb;
  } names[] = {
    { "_mb", 1 },
    { "_mib", 1.048576 },
    { "_gb", 1000 },
    { "_gib", 1073.741824 },
    { "_tb", 1e6 },
  };
  gint64 best = 0, mb = 0;
  gboolean found = FALSE;
  json_t *bare;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *key = g_strconcat (base, names[i].suffix, NULL);
      json_t *v = json_object_get (resources, key);

      if (v != NULL && value_mb (v, names[i].unit_mb, &mb))
        {
          best = MAX (best, mb);
          found = TRUE;
        }
    }
  /* mem="100G": a size string; a bare number is bytes. */
  bare = json_object_get (resources, base);
  if (!found && bare != NULL
      && (json_is_string (bare) ? ferry_snakemake_parse_size_mb (json_string_value (bare), &mb)
                                : value_mb (bare, 1e-6, &mb)))
    best = mb;
  return best;
}

static gint64
count_value (json_t *v)
{
  double x;

  if (json_is_integer (v))
    return MAX (json_integer_value (v), 0);
  if (json_is_real (v))
    {
      x = json_real_value (v);
      return isfinite (x) && x > 0 && x < 1e6 ? (gint64) ceil (x) : 0;
    }
  if (json_is_string (v) && g_regex_match_simple ("^\\s*[0-9]{1,6}\\s*$", json_string_value (v), 0, 0))
    return g_ascii_strtoll (json_string_value (v), NULL, 10);
  return 0;
}

void
ferry_snakemake_needs_add (FerryJobNeeds *needs, json_t *threads, json_t *resources)
{
  json_t *runtime;
  gint64 n, mins = 0;

  n = count_value (threads);
  if (n > 0)
    needs->threads = MAX (needs->threads, (guint) MIN (n, G_MAXINT32));
  else
    needs->threads = MAX (needs->threads, 1);
  if (!json_is_object (resources))
    return;
  needs->mem_mb = MAX (needs->mem_mb, largest_mb (resources, "mem"));
  n = largest_mb (resources, "disk");
  if (n > 0 && needs->disk_mb <= G_MAXINT64 / 4 - n)
    needs->disk_mb += n;
  runtime = json_object_get (resources, "runtime");
  if (json_is_string (runtime))
    ferry_snakemake_parse_runtime_min (json_string_value (runtime), &mins);
  else
    value_mb (runtime, 1, &mins); /* a number: minutes, as snakemake counts them */
  needs->runtime_min = MAX (needs->runtime_min, mins);
  n = MAX (count_value (json_object_get (resources, "gpu")),
           count_value (json_object_get (resources, "gpus")));
  needs->gpus = MAX (needs->gpus, (guint) MIN (n, 1000));
  n = count_value (json_object_get (resources, "nvidia_gpu"));
  if (n > 0)
    {
      needs->gpus = MAX (needs->gpus, (guint) MIN (n, 1000));
      needs->nvidia = TRUE;
    }
}

FerryPlan *
ferry_snakemake_plan_from_records (const char *records, gsize len, const char *workdir,
                                   FerryExistsFunc exists, gpointer user_data, GError **error)
{
  static const char *const workflow_candidates[] = {
    "Snakefile", "snakefile", "workflow", "rules", "scripts", "envs", "config", "config.yaml",
    "config.yml", "config.json", "profiles", NULL,
  };
  g_autoptr(GPtrArray) roots = g_ptr_array_new_with_free_func ((GDestroyNotify) json_decref);
  g_autoptr(GPtrArray) job_inputs = g_ptr_array_new ();
  g_autoptr(GPtrArray) job_outputs = g_ptr_array_new ();
  g_autoptr(GPtrArray) sources = g_ptr_array_new ();
  g_autoptr(GHashTable) produced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) job_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  OrderedSet inputs, outputs, outside, workflow;
  FerryJobNeeds needs = { 0 };
  const char *p = records, *end = records + len;
  guint line = 0, n_jobs = 0;
  FerryPlan *plan;

  if (exists == NULL)
    exists = exists_on_disk;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      gsize n = nl ? (gsize) (nl - p) : (gsize) (end - p);
      json_error_t jerr;
      json_t *root, *job;

      line++;
      if (n > 0)
        {
          root = json_loadb (p, n, 0, &jerr);
          if (root == NULL)
            return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                                 "snakemake's job record %u is not JSON: %s", line, jerr.text),
                    NULL);
          g_ptr_array_add (roots, root);
          if (!json_is_object (root))
            return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                                 "snakemake's job record %u is not an object", line),
                    NULL);
          if ((job = json_object_get (root, "job")) != NULL)
            {
              if (!json_is_object (job))
                return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                                     "snakemake's job record %u is not an object", line),
                        NULL);
              /* A job handed over twice (snakemake 8 calls its log handlers twice) counts once. */
              if (json_is_integer (json_object_get (job, "id")))
                {
                  json_t *rule = json_object_get (job, "rule");
                  char *id = g_strdup_printf ("%" JSON_INTEGER_FORMAT " %s",
                                              json_integer_value (json_object_get (job, "id")),
                                              json_is_string (rule) ? json_string_value (rule) : "");
                  if (!g_hash_table_add (job_ids, id))
                    {
                      p += n + 1;
                      continue;
                    }
                }
              if (!string_array (job, "input", line, job_inputs, error)
                  || !string_array (job, "output", line, job_outputs, error))
                return NULL;
              ferry_snakemake_needs_add (&needs, json_object_get (job, "threads"),
                                         json_object_get (job, "resources"));
              n_jobs++;
            }
          if (!string_array (root, "sources", line, sources, error))
            return NULL;
        }
      p += n + 1;
    }

  ordered_set_init (&inputs);
  ordered_set_init (&outputs);
  ordered_set_init (&outside);
  ordered_set_init (&workflow);

  for (guint i = 0; i < job_outputs->len; i++)
    {
      g_autofree char *rel = inside_workdir (job_outputs->pdata[i], workdir);
      ordered_set_add (&outputs, rel ? rel : job_outputs->pdata[i]);
      g_hash_table_add (produced, rel ? g_steal_pointer (&rel) : g_strdup (job_outputs->pdata[i]));
    }
  for (guint i = 0; i < job_inputs->len; i++)
    {
      const char *path = job_inputs->pdata[i];
      g_autofree char *rel = inside_workdir (path, workdir);
      /* An absolute name through a symlinked directory (/home -> /data/home) may still lie inside. */
      if (rel == NULL && exists == exists_on_disk)
        {
          g_autofree char *real = realpath (path, NULL);
          if (real != NULL)
            rel = inside_workdir (real, workdir);
        }
      if (rel == NULL)
        {
          if (!g_hash_table_contains (produced, path) && exists (path, user_data))
            ordered_set_add (&outside, path);
          continue;
        }
      if (!is_produced (produced, rel) && exists (rel, user_data))
        ordered_set_add (&inputs, rel);
    }
  for (guint i = 0; i < sources->len; i++)
    {
      g_autofree char *rel = inside_workdir (sources->pdata[i], workdir);
      if (rel != NULL && exists (rel, user_data))
        ordered_set_add (&workflow, rel);
    }
  for (guint i = 0; workflow_candidates[i] != NULL; i++)
    if (exists (workflow_candidates[i], user_data))
      ordered_set_add (&workflow, workflow_candidates[i]);

  plan = g_new0 (FerryPlan, 1);
  plan->n_jobs = n_jobs;
  plan->needs = needs;
  plan->inputs = ordered_set_steal (&inputs);
  plan->outputs = ordered_set_steal (&outputs);
  plan->outside = ordered_set_steal (&outside);
  plan->workflow = ordered_set_steal (&workflow);
  return plan;
}

char *
ferry_snakemake_error_summary (const char *err)
{
  g_auto(GStrv) lines = g_strsplit (err ? err : "", "\n", -1);
  g_autoptr(GString) s = g_string_new (NULL);
  guint first = G_MAXUINT, last = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_strstrip (lines[i]);
      if (first == G_MAXUINT && (strstr (lines[i], "Error") || strstr (lines[i], "Exception")))
        first = i;
      if (*lines[i] != '\0')
        last = i;
    }
  if (first == G_MAXUINT)
    first = last;
  /* An error line ending in ':' (or nothing but the class name) is explained by the next lines. */
  for (guint i = first, taken = 0; lines[i] != NULL && taken < 3; i++)
    {
      if (*lines[i] == '\0' || g_str_has_prefix (lines[i], "File \""))
        continue;
      if (s->len > 0)
        g_string_append_c (s, ' ');
      g_string_append (s, lines[i]);
      taken++;
      if (!g_str_has_suffix (lines[i], ":"))
        break;
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
ferry_snakemake_throw (const char *what, int wait_status, const char *output, GError **error)
{
  g_autofree char *summary = ferry_snakemake_error_summary (output);

  if (WIFSIGNALED (wait_status))
    return ferry_throw (error, FERRY_ERROR_CHILD, "%s was killed by signal %d", what,
                        WTERMSIG (wait_status));
  return ferry_throw (error, FERRY_ERROR_CHILD, "%s failed (exit %d)%s%s", what,
                      WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1,
                      *summary ? ": " : "", summary);
}

/* The options of snakemake that decide which jobs run and what they ask for (--cores too: a dry run
 * caps threads at it). Everything else after `--` (an executor's --slurm-*, --profile, --use-conda,
 * --jobs, -q...) is the remote's: the local
 * dry run never sees it, so a flag only the remote's snakemake or its plugins know cannot fail it. */
static const char *const dag_options[] = {
  "--snakefile", "-s", "--directory", "-d", "--configfile", "--configfiles", "--config", "-C",
  "--replace-workflow-config", "--forcerun", "-R", "--forceall", "-F", "--force", "-f", "--until",
  "-U", "--omit-from", "-O", "--allowed-rules", "--rerun-triggers", "--rerun-incomplete", "--ri",
  "--ignore-incomplete", "--ii", "--batch", "--notemp", "--nt", "--set-threads", "--max-threads",
  "--set-resources", "--default-resources", "--default-res", "--set-scatter", "--cores", "-c", NULL,
};

/* An option word (not a value): starts with '-', and is not a lone "-" or a negative number. */
static gboolean
is_option_word (const char *word)
{
  return word[0] == '-' && word[1] != '\0' && !g_ascii_isdigit (word[1])
         && !(word[1] == '.' && g_ascii_isdigit (word[2]));
}

GStrv
ferry_snakemake_dag_args (const char *const *args)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  gboolean keep = FALSE;

  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      if (is_option_word (args[i]))
        {
          g_autofree char *name = g_strndup (args[i], strcspn (args[i], "="));
          keep = g_strv_contains (dag_options, name);
        }
      /* The values after an option are its own, up to the next option. */
      if (keep)
        g_strv_builder_add (b, args[i]);
    }
  return g_strv_builder_end (b);
}

/* Snakemake refused the flag that ferry reads the jobs through. */
static gboolean
refused_reader_flag (const char *err, const char *flag)
{
  return err != NULL && strstr (err, "unrecognized arguments") != NULL && strstr (err, flag) != NULL;
}

/* One dry run with ferry's reader for snakemake `major`: 7 and 8 through the log-handler script, 9
 * (and later) through the logger plugin, put on PYTHONPATH for this run only. */
static gboolean
dry_run (int major, const char *const *targets, const char *const *dag_args,
         const char *records_path, char **out_err, int *out_status, GCancellable *cancellable,
         GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *env_jobs = g_strconcat ("FERRY_JOBS_FILE=", records_path, NULL);
  g_autofree char *env_path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) argv = NULL;
  const char *env[] = { env_jobs, NULL, NULL };

  /* A dry run caps each job's threads at --cores: a large number lets the plan see what the rules
   * ask for. */
  g_strv_builder_add_many (b, "snakemake", "--dry-run", "--cores", FERRY_PLAN_CORES, "--nocolor",
                           NULL);
  if (major >= 9)
    {
      g_autofree char *plugins = ferry_template_path ("python");
      const char *old = g_getenv ("PYTHONPATH");

      env_path = g_strconcat ("PYTHONPATH=", plugins, old && *old ? ":" : "", old ? old : "", NULL);
      env[1] = env_path;
      g_strv_builder_add_many (b, "--logger", "ferry", NULL);
    }
  else
    {
      g_autofree char *handler = ferry_template_path ("snakemake-jobs.py");
      g_strv_builder_add_many (b, "--log-handler-script", handler, NULL);
    }
  g_strv_builder_addv (b, (const char **) dag_args);
  g_strv_builder_add (b, "--");
  g_strv_builder_addv (b, (const char **) targets);
  argv = g_strv_builder_end (b);
  if (!ferry_spawn_capture ((const char *const *) argv, env, NULL, &out, &err, out_status,
                            cancellable, error))
    return FALSE;
  /* With a log handler, snakemake 7 prints its messages on stdout. */
  *out_err = g_strconcat (out ? out : "", "\n", err ? err : "", NULL);
  return TRUE;
}

FerryPlan *
ferry_snakemake_plan (const char *const *targets, const char *const *extra_args,
                      GCancellable *cancellable, GError **error)
{
  g_autofree char *reader = ferry_template_path ("python/snakemake_logger_plugin_ferry/records.py");
  g_autofree char *tmpdir = NULL;
  g_autofree char *records_path = NULL;
  g_autofree char *err = NULL;
  g_autofree char *records = NULL;
  g_autofree char *workdir = g_get_current_dir ();
  g_auto(GStrv) dag_args = ferry_snakemake_dag_args (extra_args);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *version = NULL;
  int major = 0, minor = 0;
  gsize len = 0;
  int status = 0;
  gboolean ran;
  FerryPlan *plan;

  if (!g_file_test (reader, G_FILE_TEST_IS_REGULAR))
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                         "%s is missing: is ferry installed (or FERRY_TEMPLATES_DIR set)?", reader),
            NULL);
  if (!ferry_snakemake_version (&major, &minor, &version, cancellable, error))
    return NULL;
  tmpdir = g_dir_make_tmp ("ferry-plan-XXXXXX", error);
  if (tmpdir == NULL)
    return NULL;
  records_path = g_build_filename (tmpdir, "jobs.jsonl", NULL);

  ran = dry_run (major, targets, (const char *const *) dag_args, records_path, &err, &status,
                 cancellable, &local_error);
  /* The cached version was stale (snakemake replaced in place): ask it again, once. */
  if (ran && !g_spawn_check_wait_status (status, NULL)
      && refused_reader_flag (err, major >= 9 ? "--logger" : "--log-handler-script"))
    {
      int was = major;

      version_cache_forget ();
      g_clear_pointer (&version, g_free);
      ran = ferry_snakemake_version (&major, &minor, &version, cancellable, &local_error);
      if (ran && (major >= 9) != (was >= 9))
        {
          g_clear_pointer (&err, g_free);
          ran = dry_run (major, targets, (const char *const *) dag_args, records_path, &err,
                         &status, cancellable, &local_error);
        }
    }
  if (ran && g_spawn_check_wait_status (status, NULL))
    ran = g_file_get_contents (records_path, &records, &len, &local_error);
  else if (ran && refused_reader_flag (err, major >= 9 ? "--logger" : "--log-handler-script"))
    ran = ferry_throw (&local_error, FERRY_ERROR_FAILED,
                       "snakemake %s refused %s, which ferry reads the jobs through: ferry knows "
                       "snakemake 7.19 to %d (`ferry check` shows what it finds)",
                       version, major >= 9 ? "--logger ferry" : "--log-handler-script",
                       FERRY_SNAKEMAKE_NEWEST_MAJOR);
  else if (ran)
    ran = ferry_snakemake_throw ("snakemake", status, err, &local_error);
  g_unlink (records_path);
  g_rmdir (tmpdir);
  if (!ran)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  plan = ferry_snakemake_plan_from_records (records, len, workdir, NULL, NULL, error);
  if (plan == NULL)
    g_prefix_error (error, "reading snakemake's jobs: ");
  return plan;
}

FerryPlan *
ferry_snakemake_plan_remote (const char *const *targets, const char *const *extra_args,
                             GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryPlan) plan = ferry_snakemake_plan (targets, extra_args, cancellable, error);
  g_autoptr(GStrvBuilder) b = NULL;
  g_auto(GStrv) forced = NULL;

  if (plan == NULL || plan->n_jobs > 0)
    return g_steal_pointer (&plan);
  b = g_strv_builder_new ();
  if (extra_args != NULL)
    g_strv_builder_addv (b, (const char **) extra_args);
  g_strv_builder_add (b, "--forceall");
  forced = g_strv_builder_end (b);
  return ferry_snakemake_plan (targets, (const char *const *) forced, cancellable, error);
}
