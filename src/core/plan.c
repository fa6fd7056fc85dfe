/* Right-sizing: the needs of a target's jobs, the region's instance types that fit them, in the order
 * the plan gives (price, then size and family), and the quote as JSON. */
#include <sys/stat.h>

#include <math.h>

#include "plan.h"
#include "resources.h"

void
ferry_candidate_free (FerryCandidate *c)
{
  if (c == NULL)
    return;
  ferry_instance_type_free (c->type);
  g_free (c->spot_zone);
  g_free (c);
}

void
ferry_quote_free (FerryQuote *q)
{
  if (q == NULL)
    return;
  g_free (q->region);
  g_free (q->types_error);
  g_clear_pointer (&q->candidates, g_ptr_array_unref);
  ferry_candidate_free (q->chosen);
  ferry_instance_type_free (q->largest);
  g_free (q->on_demand_error);
  g_free (q->spot_error);
  g_free (q->gp3_error);
  g_free (q);
}

/* --- needs ---------------------------------------------------------------------------------------- */

/* Bytes on disk under `path` (a file, or a directory's files; symbolic links inside are not
 * followed, as the archive stores them as links). */
static guint64
du (const char *path, gboolean follow)
{
  struct stat st;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint64 total = 0;

  if ((follow ? stat (path, &st) : lstat (path, &st)) != 0)
    return 0;
  if (!S_ISDIR (st.st_mode))
    return S_ISREG (st.st_mode) ? (guint64) st.st_size : 0;
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      total += du (child, FALSE);
    }
  return total;
}

static guint64
du_all (char **paths)
{
  guint64 total = 0;

  for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
    total += du (paths[i], TRUE);
  return total;
}

void
ferry_needs_from_plan (const FerryPlan *plan, const FerryQuoteOptions *opts, FerryNeeds *needs)
{
  guint64 workflow_bytes = 0;
  gint64 gb;

  memset (needs, 0, sizeof *needs);
  needs->n_jobs = plan->n_jobs;
  needs->jobs = plan->needs;
  if (needs->jobs.threads == 0)
    needs->jobs.threads = 1;
  if (needs->jobs.mem_mb > 0)
    needs->memory_mib = needs->jobs.mem_mb + (needs->jobs.mem_mb * FERRY_PLAN_MEM_HEADROOM + 99) / 100;
  needs->gpus = needs->jobs.gpus;
  if (needs->gpus == 0 && opts != NULL && opts->gpu)
    needs->gpus = 1;
  needs->input_bytes = du_all (plan->inputs);
  /* The workflow's files may include directories that also hold inputs; count what push sends. */
  for (guint i = 0; plan->workflow != NULL && plan->workflow[i] != NULL; i++)
    if (plan->inputs == NULL || !g_strv_contains ((const char *const *) plan->inputs, plan->workflow[i]))
      workflow_bytes += du (plan->workflow[i], TRUE);
  needs->push_bytes = needs->input_bytes + workflow_bytes;
  if (needs->jobs.disk_mb > 0)
    {
      needs->disk_from_jobs = TRUE;
      needs->disk_bytes = needs->input_bytes + (guint64) needs->jobs.disk_mb * 1000000;
    }
  else
    needs->disk_bytes = needs->input_bytes * 2;
  gb = (gint64) ((needs->disk_bytes + 999999999) / 1000000000) + FERRY_PLAN_SYSTEM_GB;
  needs->volume_gb = CLAMP (gb, FERRY_DEFAULT_VOLUME_GB, 16384);
  if (opts != NULL && opts->volume_gb > 0)
    needs->volume_gb = opts->volume_gb;
}

/* --- fitting and ordering --------------------------------------------------------------------------- */

/* The checks that do not depend on size. */
static gboolean
kind_fits (const FerryInstanceType *t, const FerryNeeds *needs, const FerryQuoteOptions *opts)
{
  const char *arch = opts->arch ? opts->arch : "x86_64";

  if (g_str_equal (arch, "arm64") ? !t->arm64 : !t->x86_64)
    return FALSE;
  if (!t->current_generation || t->bare_metal || t->accelerators)
    return FALSE;
  if (opts->spot ? !t->spot : !t->on_demand)
    return FALSE;
  if (needs->gpus == 0)
    return t->gpus == 0;
  return t->gpus > 0 && (!needs->jobs.nvidia || t->nvidia);
}

gboolean
ferry_instance_type_fits (const FerryInstanceType *t, const FerryNeeds *needs,
                          const FerryQuoteOptions *opts)
{
  return kind_fits (t, needs, opts) && t->vcpus >= needs->jobs.threads
         && t->memory_mib >= needs->memory_mib && t->gpus >= needs->gpus;
}

static int
family_rank (const char *name)
{
  static const char order[] = "mcr";
  const char *dot = strchr (name, '.');
  const char *p;

  /* The family's class is its first letter; "m7i-flex" is m, "hpc7a" is not c. */
  if (dot == NULL || !g_ascii_isdigit (name[1]))
    return 3;
  p = strchr (order, name[0]);
  return p != NULL && *p != '\0' ? (int) (p - order) : 3;
}

double
ferry_candidate_price (const FerryCandidate *c, gboolean spot)
{
  return spot ? c->spot : c->on_demand;
}

static gint
compare_candidates (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const FerryCandidate *a = *(FerryCandidate *const *) pa;
  const FerryCandidate *b = *(FerryCandidate *const *) pb;
  gboolean spot = GPOINTER_TO_INT (data);
  double x = ferry_candidate_price (a, spot), y = ferry_candidate_price (b, spot);
  int fa, fb;

  if (x >= 0 && y >= 0 && x != y)
    return x < y ? -1 : 1;
  if ((x >= 0) != (y >= 0))
    return x >= 0 ? -1 : 1;
  if (a->type->vcpus != b->type->vcpus)
    return a->type->vcpus < b->type->vcpus ? -1 : 1;
  if (a->type->memory_mib != b->type->memory_mib)
    return a->type->memory_mib < b->type->memory_mib ? -1 : 1;
  fa = family_rank (a->type->name);
  fb = family_rank (b->type->name);
  if (fa != fb)
    return fa < fb ? -1 : 1;
  return strcmp (a->type->name, b->type->name);
}

static void
candidate_set_prices (FerryCandidate *c, GHashTable *on_demand, GHashTable *spot)
{
  double *od = on_demand ? g_hash_table_lookup (on_demand, c->type->name) : NULL;
  FerrySpotPrice *sp = spot ? g_hash_table_lookup (spot, c->type->name) : NULL;

  c->on_demand = od ? *od : -1;
  c->spot = sp ? sp->usd : -1;
  g_free (c->spot_zone);
  c->spot_zone = sp ? g_strdup (sp->zone) : NULL;
}

GPtrArray *
ferry_quote_rank (GPtrArray *types, const FerryNeeds *needs, const FerryQuoteOptions *opts,
                  GHashTable *on_demand, GHashTable *spot)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_candidate_free);

  for (guint i = 0; i < types->len; i++)
    {
      FerryInstanceType *t = types->pdata[i];
      FerryCandidate *c;

      if (!ferry_instance_type_fits (t, needs, opts))
        continue;
      c = g_new0 (FerryCandidate, 1);
      c->type = ferry_instance_type_copy (t);
      candidate_set_prices (c, on_demand, spot);
      g_ptr_array_add (out, c);
    }
  g_ptr_array_sort_with_data (out, compare_candidates, GINT_TO_POINTER (opts->spot));
  return out;
}

/* The region's largest type of the right kind (or of any kind), by memory then vCPUs. */
static FerryInstanceType *
largest_type (GPtrArray *types, const FerryNeeds *needs, const FerryQuoteOptions *opts)
{
  const FerryInstanceType *best = NULL;

  for (int pass = 0; pass < 2 && best == NULL; pass++)
    for (guint i = 0; i < types->len; i++)
      {
        const FerryInstanceType *t = types->pdata[i];
        if (pass == 0 && !kind_fits (t, needs, opts))
          continue;
        if (best == NULL || t->memory_mib > best->memory_mib
            || (t->memory_mib == best->memory_mib && t->vcpus > best->vcpus))
          best = t;
      }
  return best ? ferry_instance_type_copy (best) : NULL;
}

static FerryCandidate *
candidate_copy (const FerryCandidate *c)
{
  FerryCandidate *copy = g_new0 (FerryCandidate, 1);

  copy->type = ferry_instance_type_copy (c->type);
  copy->on_demand = c->on_demand;
  copy->spot = c->spot;
  copy->spot_zone = g_strdup (c->spot_zone);
  return copy;
}

static FerryCandidate *
candidate_named (GPtrArray *types, const char *name, GHashTable *on_demand, GHashTable *spot)
{
  for (guint i = 0; i < types->len; i++)
    {
      FerryInstanceType *t = types->pdata[i];
      if (g_str_equal (t->name, name))
        {
          FerryCandidate *c = g_new0 (FerryCandidate, 1);
          c->type = ferry_instance_type_copy (t);
          candidate_set_prices (c, on_demand, spot);
          return c;
        }
    }
  return NULL;
}

static char *
error_text (GError *error)
{
  return g_strdup (error && error->message ? error->message : "no answer");
}

FerryQuote *
ferry_quote_compute (FerryAws *aws, const char *cache_dir, const FerryNeeds *needs,
                     const FerryQuoteOptions *opts, GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryQuote) q = g_new0 (FerryQuote, 1);
  g_autoptr(GPtrArray) types = NULL;
  g_autoptr(GPtrArray) ranked = NULL;
  g_autoptr(GHashTable) on_demand = NULL;
  g_autoptr(GHashTable) spot = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) spot_types = NULL;

  q->needs = *needs;
  q->opts = *opts;
  q->gp3_usd_gb_month = -1;
  q->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_candidate_free);
  q->region = g_strdup (aws->region);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  types = ferry_instance_types_load (aws, q->region, cache_dir, cancellable, &local_error);
  if (types == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return (g_propagate_error (error, g_steal_pointer (&local_error)), NULL);
      q->types_error = error_text (local_error);
      return g_steal_pointer (&q);
    }
  q->n_types = types->len;
  ranked = ferry_quote_rank (types, needs, opts, NULL, NULL);
  q->n_fitting = ranked->len;
  if (ranked->len == 0 && opts->instance_type == NULL)
    {
      q->largest = largest_type (types, needs, opts);
      return g_steal_pointer (&q);
    }

  on_demand = ferry_pricing_on_demand (aws, q->region, NULL, cache_dir, cancellable, &local_error);
  if (on_demand == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return (g_propagate_error (error, g_steal_pointer (&local_error)), NULL);
      q->on_demand_error = error_text (local_error);
      g_clear_error (&local_error);
    }

  /* Spot prices for every fitting type when they decide the order, else for the listed ones. */
  if (!opts->spot)
    {
      g_clear_pointer (&ranked, g_ptr_array_unref);
      ranked = ferry_quote_rank (types, needs, opts, on_demand, NULL);
    }
  for (guint i = 0; i < ranked->len && (opts->spot || i < FERRY_PLAN_LIST); i++)
    g_strv_builder_add (names, ((FerryCandidate *) ranked->pdata[i])->type->name);
  if (opts->instance_type != NULL)
    g_strv_builder_add (names, opts->instance_type);
  spot_types = g_strv_builder_end (names);
  spot = ferry_pricing_spot (aws, (const char *const *) spot_types, NULL, cancellable, &local_error);
  if (spot == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return (g_propagate_error (error, g_steal_pointer (&local_error)), NULL);
      q->spot_error = error_text (local_error);
      g_clear_error (&local_error);
    }
  g_clear_pointer (&ranked, g_ptr_array_unref);
  ranked = ferry_quote_rank (types, needs, opts, on_demand, spot);
  for (guint i = 0; i < ranked->len && i < FERRY_PLAN_LIST; i++)
    g_ptr_array_add (q->candidates, candidate_copy (ranked->pdata[i]));
  if (opts->instance_type != NULL)
    q->chosen = candidate_named (types, opts->instance_type, on_demand, spot);
  else if (q->candidates->len > 0)
    q->chosen = candidate_copy (q->candidates->pdata[0]);
  if (ranked->len == 0)
    q->largest = largest_type (types, needs, opts);

  /* gp3's price comes from the same API: when it did not answer for instances, it will not now. */
  if (q->on_demand_error != NULL)
    q->gp3_error = g_strdup (q->on_demand_error);
  else if (!ferry_pricing_gp3 (aws, q->region, &q->gp3_usd_gb_month, cancellable, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return (g_propagate_error (error, g_steal_pointer (&local_error)), NULL);
      q->gp3_usd_gb_month = -1;
      q->gp3_error = error_text (local_error);
    }
  return g_steal_pointer (&q);
}

/* --- money ------------------------------------------------------------------------------------------ */

#define HOURS_PER_MONTH 730.0 /* AWS bills GB-months of 730 hours */

double
ferry_quote_volume_month (const FerryQuote *q)
{
  if (q->gp3_usd_gb_month < 0)
    return -1;
  return q->gp3_usd_gb_month * (double) q->needs.volume_gb;
}

double
ferry_quote_worst_case (const FerryQuote *q, const FerryCandidate *c)
{
  double hourly = ferry_candidate_price (c, q->opts.spot);
  double volume = ferry_quote_volume_month (q);

  if (hourly < 0 || volume < 0 || q->opts.max_hours <= 0)
    return -1;
  return (hourly + volume / HOURS_PER_MONTH) * (double) q->opts.max_hours;
}

static char *
format_mib (gint64 mib)
{
  if (mib % 1024 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " GiB", mib / 1024);
  return g_strdup_printf ("%" G_GINT64_FORMAT " MiB", mib);
}

gboolean
ferry_quote_throw_none_fits (const FerryQuote *q, GError **error)
{
  g_autofree char *need_mem = format_mib (q->needs.memory_mib);
  g_autofree char *largest = NULL;
  g_autofree char *gpus = NULL;

  if (q->largest != NULL)
    {
      g_autofree char *mem = format_mib (q->largest->memory_mib);
      largest = g_strdup_printf ("the largest there is %s (%u vCPUs, %s)", q->largest->name,
                                 q->largest->vcpus, mem);
    }
  if (q->needs.gpus > 0)
    gpus = g_strdup_printf (", %u GPU%s", q->needs.gpus, q->needs.gpus == 1 ? "" : "s");
  return ferry_throw (error, FERRY_ERROR_FAILED,
                      "no %s %s instance type in %s has %u vCPU%s and %s%s: %s; ask for less "
                      "(threads, mem_mb), or give the planning dry run -- --cores N",
                      q->opts.arch ? q->opts.arch : "x86_64", q->opts.spot ? "spot" : "on-demand",
                      q->region ? q->region : "the region", q->needs.jobs.threads,
                      q->needs.jobs.threads == 1 ? "" : "s",
                      q->needs.memory_mib > 0 ? need_mem : "any memory", gpus ? gpus : "",
                      largest ? largest : "the region lists none of that kind");
}

/* --- JSON ------------------------------------------------------------------------------------------- */

static json_t *
usd_or_null (double usd)
{
  return usd >= 0 ? json_real (round (usd * 1e6) / 1e6) : json_null ();
}

static json_t *
candidate_json (const FerryQuote *q, const FerryCandidate *c)
{
  return json_pack ("{s:s, s:i, s:I, s:i, s:o, s:o, s:s?, s:o}", "type", c->type->name, "vcpus",
                    (int) c->type->vcpus, "memory_mib", (json_int_t) c->type->memory_mib, "gpus",
                    (int) c->type->gpus, "on_demand_usd_per_hour", usd_or_null (c->on_demand),
                    "spot_usd_per_hour", usd_or_null (c->spot), "spot_zone", c->spot_zone,
                    "at_most_usd", usd_or_null (ferry_quote_worst_case (q, c)));
}

static json_t *
source (const char *what, const char *why_unknown)
{
  if (why_unknown != NULL)
    return json_pack ("{s:b, s:s}", "known", 0, "reason", why_unknown);
  return json_pack ("{s:b, s:s}", "known", 1, "from", what);
}

json_t *
ferry_quote_to_json (const FerryQuote *q, const char *const *targets)
{
  const FerryNeeds *n = &q->needs;
  const char *unpriced = q->types_error ? q->types_error
                         : q->chosen == NULL && q->n_fitting == 0 ? "no instance type fits"
                                                                  : NULL;
  json_t *arr_targets = json_array ();
  json_t *types = json_array ();
  json_t *doc;

  for (guint i = 0; targets != NULL && targets[i] != NULL; i++)
    json_array_append_new (arr_targets, json_string (targets[i]));
  for (guint i = 0; q->candidates != NULL && i < q->candidates->len; i++)
    {
      json_array_append_new (types, candidate_json (q, q->candidates->pdata[i]));
    }
  doc = json_pack (
      "{s:o, s:i, s:{s:i, s:I, s:I, s:I, s:s, s:I, s:I, s:o, s:i}, s:s?, s:s, s:s, s:I}",
      "targets", arr_targets, "jobs", (int) n->n_jobs, "needs", "threads", (int) n->jobs.threads,
      "mem_mb", (json_int_t) n->jobs.mem_mb, "memory_mib", (json_int_t) n->memory_mib,
      "disk_bytes", (json_int_t) n->disk_bytes, "disk_from",
      n->disk_from_jobs ? "inputs + disk_mb" : "inputs x 2", "input_bytes",
      (json_int_t) n->input_bytes, "push_bytes", (json_int_t) n->push_bytes, "runtime_min",
      n->jobs.runtime_min > 0 ? json_integer (n->jobs.runtime_min) : json_null (), "gpus",
      (int) n->gpus, "region", q->region, "arch", q->opts.arch ? q->opts.arch : "x86_64",
      "usage_class", q->opts.spot ? "spot" : "on-demand", "max_hours",
      (json_int_t) q->opts.max_hours);
  json_object_set_new (doc, "instance_types", types);
  json_object_set_new (doc, "chosen", q->chosen ? candidate_json (q, q->chosen) : json_null ());
  json_object_set_new (doc, "types_in_region", json_integer (q->n_types));
  json_object_set_new (doc, "fitting", json_integer (q->n_fitting));
  json_object_set_new (doc, "largest",
                       q->largest ? json_pack ("{s:s, s:i, s:I}", "type", q->largest->name, "vcpus",
                                               (int) q->largest->vcpus, "memory_mib",
                                               (json_int_t) q->largest->memory_mib)
                                  : json_null ());
  json_object_set_new (doc, "volume",
                       json_pack ("{s:s, s:I, s:o, s:o}", "type", "gp3", "size_gb",
                                  (json_int_t) n->volume_gb, "usd_per_gb_month",
                                  usd_or_null (q->gp3_usd_gb_month), "usd_per_month",
                                  usd_or_null (ferry_quote_volume_month (q))));
  json_object_set_new (
      doc, "sources",
      json_pack ("{s:o, s:o, s:o, s:o}", "instance_types",
                 source ("aws ec2 describe-instance-types", q->types_error), "on_demand",
                 source ("aws pricing get-products (" FERRY_PRICING_REGION ")",
                         unpriced ? unpriced : q->on_demand_error),
                 "spot",
                 source ("aws ec2 describe-spot-price-history",
                         unpriced ? unpriced : q->spot_error),
                 "volume",
                 source ("aws pricing get-products (" FERRY_PRICING_REGION ")",
                         unpriced ? unpriced : q->gp3_error)));
  return doc;
}
