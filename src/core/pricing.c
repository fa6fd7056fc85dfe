/* What AWS says things cost: instance types, on-demand, spot and gp3 prices, each parsed once from
 * the aws CLI's JSON; types and on-demand prices are kept a day in the state dir. */
#include <glib/gstdio.h>

#include <math.h>

#include "pricing.h"
#include "spawn.h"

void
ferry_instance_type_free (FerryInstanceType *t)
{
  if (t == NULL)
    return;
  g_free (t->name);
  g_free (t);
}

FerryInstanceType *
ferry_instance_type_copy (const FerryInstanceType *t)
{
  FerryInstanceType *copy = g_memdup2 (t, sizeof *t);

  copy->name = g_strdup (t->name);
  return copy;
}

void
ferry_spot_price_free (FerrySpotPrice *p)
{
  if (p == NULL)
    return;
  g_free (p->zone);
  g_free (p);
}

GHashTable *
ferry_pricing_table_new (gboolean spot)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                spot ? (GDestroyNotify) ferry_spot_price_free : g_free);
}

double
ferry_price_for_seconds (double hourly, gint64 seconds)
{
  if (hourly < 0 || !isfinite (hourly) || seconds < 0)
    return -1;
  return hourly * (double) MAX (seconds, 60) / 3600.0;
}

char *
ferry_format_usd (double usd)
{
  if (usd < 0 || !isfinite (usd))
    return g_strdup ("unknown");
  if (usd >= 1)
    return g_strdup_printf ("$%.2f", usd);
  return g_strdup_printf ("$%.4f", usd);
}

/* --- instance types ----------------------------------------------------------------------------- */

static gboolean
array_has (json_t *arr, const char *value)
{
  size_t i;
  json_t *v;

  json_array_foreach (arr, i, v)
    if (g_strcmp0 (json_string_value (v), value) == 0)
      return TRUE;
  return FALSE;
}

/* One describe-instance-types entry; NULL when it lacks the essentials. */
static FerryInstanceType *
type_from_aws (json_t *t)
{
  const char *name = json_string_value (json_object_get (t, "InstanceType"));
  json_t *vcpus = json_object_get (json_object_get (t, "VCpuInfo"), "DefaultVCpus");
  json_t *mem = json_object_get (json_object_get (t, "MemoryInfo"), "SizeInMiB");
  json_t *archs = json_object_get (json_object_get (t, "ProcessorInfo"), "SupportedArchitectures");
  json_t *usage = json_object_get (t, "SupportedUsageClasses");
  json_t *gpus = json_object_get (json_object_get (t, "GpuInfo"), "Gpus");
  FerryInstanceType *it;
  size_t i;
  json_t *g;

  if (name == NULL || !json_is_integer (vcpus) || !json_is_integer (mem)
      || json_integer_value (vcpus) < 1 || json_integer_value (mem) < 1)
    return NULL;
  it = g_new0 (FerryInstanceType, 1);
  it->name = g_strdup (name);
  it->vcpus = (guint) MIN (json_integer_value (vcpus), G_MAXINT32);
  it->memory_mib = json_integer_value (mem);
  it->x86_64 = array_has (archs, "x86_64");
  it->arm64 = array_has (archs, "arm64");
  it->current_generation = json_is_true (json_object_get (t, "CurrentGeneration"));
  it->on_demand = array_has (usage, "on-demand");
  it->spot = array_has (usage, "spot");
  it->bare_metal = json_is_true (json_object_get (t, "BareMetal"));
  /* A type without one of these has the member missing (aws-cli) or null (SDK dumps). */
  it->accelerators = json_is_object (json_object_get (t, "FpgaInfo"))
                     || json_is_object (json_object_get (t, "InferenceAcceleratorInfo"))
                     || json_is_object (json_object_get (t, "NeuronInfo"))
                     || json_is_object (json_object_get (t, "MediaAcceleratorInfo"));
  json_array_foreach (gpus, i, g)
    {
      json_int_t n = json_integer_value (json_object_get (g, "Count"));
      it->gpus += (guint) CLAMP (n, 0, 1000);
      if (g_strcmp0 (json_string_value (json_object_get (g, "Manufacturer")), "NVIDIA") == 0)
        it->nvidia = TRUE;
    }
  /* A share of a GPU (GpuInfo with no whole one) fits neither a CPU job nor a GPU one. */
  if (it->gpus == 0 && json_is_object (json_object_get (t, "GpuInfo")))
    it->accelerators = TRUE;
  return it;
}

/* One entry of ferry's own cache. */
static FerryInstanceType *
type_from_cache (json_t *t)
{
  const char *name = json_string_value (json_object_get (t, "name"));
  json_t *vcpus = json_object_get (t, "vcpus");
  json_t *mem = json_object_get (t, "memory_mib");
  FerryInstanceType *it;

  if (name == NULL || !json_is_integer (vcpus) || !json_is_integer (mem)
      || json_integer_value (vcpus) < 1 || json_integer_value (mem) < 1)
    return NULL;
  it = g_new0 (FerryInstanceType, 1);
  it->name = g_strdup (name);
  it->vcpus = (guint) MIN (json_integer_value (vcpus), G_MAXINT32);
  it->memory_mib = json_integer_value (mem);
  it->x86_64 = array_has (json_object_get (t, "arch"), "x86_64");
  it->arm64 = array_has (json_object_get (t, "arch"), "arm64");
  it->current_generation = json_is_true (json_object_get (t, "current"));
  it->on_demand = array_has (json_object_get (t, "usage"), "on-demand");
  it->spot = array_has (json_object_get (t, "usage"), "spot");
  it->bare_metal = json_is_true (json_object_get (t, "bare_metal"));
  it->accelerators = json_is_true (json_object_get (t, "accelerators"));
  it->gpus = (guint) CLAMP (json_integer_value (json_object_get (t, "gpus")), 0, 1000);
  it->nvidia = json_is_true (json_object_get (t, "nvidia"));
  return it;
}

GPtrArray *
ferry_instance_types_parse (json_t *doc, GError **error)
{
  g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_instance_type_free);
  json_t *aws_list = json_object_get (doc, "InstanceTypes");
  json_t *cached = json_object_get (doc, "types");
  size_t i;
  json_t *t;

  if (!json_is_array (aws_list) && !json_is_array (cached))
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                         "unexpected output from aws ec2 describe-instance-types: no InstanceTypes"),
            NULL);
  json_array_foreach (json_is_array (aws_list) ? aws_list : cached, i, t)
    {
      FerryInstanceType *it = json_is_array (aws_list) ? type_from_aws (t) : type_from_cache (t);
      if (it != NULL)
        g_ptr_array_add (types, it);
    }
  return g_steal_pointer (&types);
}

json_t *
ferry_instance_types_to_json (GPtrArray *types)
{
  json_t *arr = json_array ();

  for (guint i = 0; i < types->len; i++)
    {
      FerryInstanceType *t = types->pdata[i];
      json_t *arch = json_array ();
      json_t *usage = json_array ();

      if (t->x86_64)
        json_array_append_new (arch, json_string ("x86_64"));
      if (t->arm64)
        json_array_append_new (arch, json_string ("arm64"));
      if (t->on_demand)
        json_array_append_new (usage, json_string ("on-demand"));
      if (t->spot)
        json_array_append_new (usage, json_string ("spot"));
      json_array_append_new (
          arr, json_pack ("{s:s, s:i, s:I, s:o, s:b, s:o, s:b, s:b, s:i, s:b}", "name", t->name,
                          "vcpus", (int) t->vcpus, "memory_mib", (json_int_t) t->memory_mib,
                          "arch", arch, "current", t->current_generation, "usage", usage,
                          "bare_metal", t->bare_metal, "accelerators", t->accelerators, "gpus",
                          (int) t->gpus, "nvidia", t->nvidia));
    }
  return arr;
}

/* --- the cache: <state dir>/<what>.<region>.json, good for a day, for one endpoint ------------- */

static char *
cache_path (const char *cache_dir, const char *what, const char *region)
{
  g_autofree char *base = g_strdup_printf ("%s.%s.json", what, region);
  return g_build_filename (cache_dir, base, NULL);
}

static json_t *
cache_read (FerryAws *aws, const char *cache_dir, const char *what, const char *region)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(json_t) root = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  json_int_t at;
  gsize len;

  if (cache_dir == NULL || region == NULL)
    return NULL;
  path = cache_path (cache_dir, what, region);
  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  root = json_loadb (text, len, 0, NULL);
  at = json_integer_value (json_object_get (root, "fetched_at"));
  if (!json_is_object (root) || at > now || now - at >= FERRY_PRICING_CACHE_SECONDS
      || g_strcmp0 (json_string_value (json_object_get (root, "endpoint")), aws->endpoint_url) != 0
      || g_strcmp0 (json_string_value (json_object_get (root, "region")), region) != 0)
    return NULL;
  return g_steal_pointer (&root);
}

/* Keeps `data` (stolen) under `key`; a cache that cannot be written is only not kept. */
static void
cache_write (FerryAws *aws, const char *cache_dir, const char *what, const char *region,
             const char *key, json_t *data)
{
  g_autoptr(json_t) root = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;

  if (cache_dir == NULL || region == NULL || aws->dry_run
      || !g_file_test (cache_dir, G_FILE_TEST_IS_DIR))
    {
      json_decref (data);
      return;
    }
  root = json_pack ("{s:s?, s:s, s:I, s:o}", "endpoint", aws->endpoint_url, "region", region,
                    "fetched_at", (json_int_t) (g_get_real_time () / G_USEC_PER_SEC), key, data);
  path = cache_path (cache_dir, what, region);
  text = json_dumps (root, JSON_COMPACT);
  if (text != NULL)
    g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
}

const char *
ferry_instance_type_arch (GPtrArray *types, const char *name)
{
  for (guint i = 0; types != NULL && name != NULL && i < types->len; i++)
    {
      const FerryInstanceType *t = types->pdata[i];
      if (g_str_equal (t->name, name))
        return t->arm64 && !t->x86_64 ? "arm64" : "x86_64";
    }
  return NULL;
}

GPtrArray *
ferry_instance_types_load (FerryAws *aws, const char *region, const char *cache_dir,
                           GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) cached = cache_read (aws, cache_dir, "instance-types", region);
  g_autoptr(json_t) doc = NULL;
  GPtrArray *types;

  if (cached != NULL && json_is_array (json_object_get (cached, "types")))
    {
      types = ferry_instance_types_parse (cached, NULL);
      if (types != NULL && types->len > 0)
        return types;
      g_clear_pointer (&types, g_ptr_array_unref);
    }
  doc = ferry_aws_call (aws, "ec2", "describe-instance-types", NULL, cancellable, error);
  if (doc == NULL)
    return NULL;
  types = ferry_instance_types_parse (doc, error);
  if (types != NULL && types->len > 0)
    cache_write (aws, cache_dir, "instance-types", region, "types",
                 ferry_instance_types_to_json (types));
  return types;
}

/* --- on-demand and storage prices: the Pricing API's price list items --------------------------- */

/* The USD price of an OnDemand term billed per `unit` ("Hrs", "GB-Mo"); of a tiered one (S3
 * Standard: the first 50 TB, the next 450 TB, over 500 TB), the first tier's, whatever the order of
 * the dimensions in the answer. */
static double
on_demand_price (json_t *item, const char *unit)
{
  json_t *terms = json_object_get (json_object_get (item, "terms"), "OnDemand");
  const char *k1, *k2;
  json_t *term, *dim;
  double best = -1, best_begin = 0;

  json_object_foreach (terms, k1, term)
    json_object_foreach (json_object_get (term, "priceDimensions"), k2, dim)
      {
        const char *usd = json_string_value (json_object_get (json_object_get (dim, "pricePerUnit"), "USD"));
        const char *begin = json_string_value (json_object_get (dim, "beginRange"));
        double from = begin ? g_ascii_strtod (begin, NULL) : 0;
        char *end = NULL;
        double v;

        if (usd == NULL || g_strcmp0 (json_string_value (json_object_get (dim, "unit")), unit) != 0)
          continue;
        v = g_ascii_strtod (usd, &end);
        if (end != usd && *end == '\0' && isfinite (v) && v > 0 && (best < 0 || from < best_begin))
          {
            best = v;
            best_begin = from;
          }
      }
  return best;
}

/* Each price list item of a get-products answer, parsed (the API gives them as JSON strings). */
static gboolean
price_list_foreach (json_t *doc, gboolean (*fn) (json_t *item, gpointer data), gpointer data,
                    GError **error)
{
  json_t *list = json_object_get (doc, "PriceList");
  size_t i;
  json_t *v;

  if (!json_is_array (list))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "unexpected output from aws pricing get-products: no PriceList");
  json_array_foreach (list, i, v)
    {
      g_autoptr(json_t) item = NULL;
      json_error_t jerr;

      if (json_is_string (v))
        item = json_loadb (json_string_value (v), json_string_length (v), 0, &jerr);
      else if (json_is_object (v))
        item = json_incref (v);
      if (item == NULL)
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "unexpected output from aws pricing get-products: price list item %zu "
                            "is not JSON",
                            i);
      if (!fn (item, data))
        break;
    }
  return TRUE;
}

static gboolean
attribute_is (json_t *attrs, const char *key, const char *want)
{
  const char *v = json_string_value (json_object_get (attrs, key));
  return v == NULL || g_ascii_strcasecmp (v, want) == 0;
}

static gboolean
take_instance_price (json_t *item, gpointer data)
{
  GHashTable *prices = data;
  json_t *attrs = json_object_get (json_object_get (item, "product"), "attributes");
  const char *type = json_string_value (json_object_get (attrs, "instanceType"));
  const char *usage = json_string_value (json_object_get (attrs, "usagetype"));
  double price, *old;

  /* Shared-tenancy Linux on demand is billed as "[REGION-]BoxUsage:TYPE"; dedicated hosts,
   * reservations and capacity blocks are not what a launch pays. */
  if (type == NULL || usage == NULL || strstr (usage, "BoxUsage:") == NULL
      || strstr (usage, "HostBoxUsage") != NULL || !attribute_is (attrs, "operatingSystem", "Linux")
      || !attribute_is (attrs, "tenancy", "Shared") || !attribute_is (attrs, "preInstalledSw", "NA")
      || !attribute_is (attrs, "capacitystatus", "Used")
      || !attribute_is (attrs, "marketoption", "OnDemand"))
    return TRUE;
  price = on_demand_price (item, "Hrs");
  if (price < 0)
    return TRUE;
  old = g_hash_table_lookup (prices, type);
  if (old == NULL)
    g_hash_table_insert (prices, g_strdup (type), g_memdup2 (&price, sizeof price));
  else if (price < *old)
    *old = price;
  return TRUE;
}

gboolean
ferry_pricing_parse_products (json_t *doc, GHashTable *prices, GError **error)
{
  return price_list_foreach (doc, take_instance_price, prices, error);
}

static gboolean
take_storage_price (json_t *item, gpointer data)
{
  double *out = data;
  double price = on_demand_price (item, "GB-Mo");

  if (price < 0)
    return TRUE;
  *out = price;
  return FALSE;
}

gboolean
ferry_pricing_parse_storage (json_t *doc, double *out_usd_gb_month, GError **error)
{
  double price = -1;

  if (!price_list_foreach (doc, take_storage_price, &price, error))
    return FALSE;
  if (price < 0)
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "the Pricing API lists no price per GB-month for this volume type");
  *out_usd_gb_month = price;
  return TRUE;
}

/* The aws runner for the Pricing API: its own region, and a failure means "unknown". */
static FerryAws *
pricing_aws (FerryAws *aws)
{
  FerryAws *p = ferry_aws_new (aws->endpoint_url, FERRY_PRICING_REGION, aws->profile);

  p->verbose = aws->verbose;
  p->log = aws->log;
  p->log_data = aws->log_data;
  p->backoff_base_ms = aws->backoff_base_ms;
  p->optional = TRUE;
  return p;
}

/* Why the Pricing API gave no price, in a few words: the error's AWS code decides. */
static void
pricing_failed (FerryAws *aws, GError *error)
{
  const char *code = ferry_aws_error_code (error);
  char *message = NULL;

  if (error == NULL || error->domain != FERRY_ERROR)
    return;
  if (ferry_aws_error_kind (error) == FERRY_AWS_ERROR_AUTH)
    message = g_strdup_printf ("no permission for pricing:GetProducts (%s)", code ? code : "denied");
  else if (code != NULL && g_ascii_isdigit (code[0]))
    message = g_strdup_printf ("the Pricing API at %s answered HTTP %s",
                               aws->endpoint_url ? aws->endpoint_url : FERRY_PRICING_REGION, code);
  if (message != NULL)
    {
      g_free (error->message);
      error->message = message;
    }
}

static void
add_filter (GStrvBuilder *b, const char *field, const char *value)
{
  g_autofree char *f = g_strdup_printf ("Type=TERM_MATCH,Field=%s,Value=%s", field, value);
  g_strv_builder_add (b, f);
}

GHashTable *
ferry_pricing_on_demand (FerryAws *aws, const char *region, const char *type,
                         const char *cache_dir, GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryAws) p = pricing_aws (aws);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GHashTable) prices = ferry_pricing_table_new (FALSE);
  g_autoptr(json_t) doc = NULL;
  g_auto(GStrv) args = NULL;

  if (region == NULL)
    return (ferry_throw (error, FERRY_ERROR_CONFIG, "no AWS region is set"), NULL);
  if (type == NULL)
    {
      g_autoptr(json_t) cached = cache_read (aws, cache_dir, "prices", region);
      const char *k;
      json_t *v;

      json_object_foreach (json_object_get (cached, "prices"), k, v)
        if (json_is_number (v) && json_number_value (v) > 0)
          {
            double price = json_number_value (v);
            g_hash_table_insert (prices, g_strdup (k), g_memdup2 (&price, sizeof price));
          }
      if (g_hash_table_size (prices) > 0)
        return g_steal_pointer (&prices);
    }
  g_strv_builder_add_many (b, "--service-code", "AmazonEC2", "--format-version", "aws_v1",
                           "--filters", NULL);
  add_filter (b, "regionCode", region);
  add_filter (b, "productFamily", "Compute Instance");
  add_filter (b, "operatingSystem", "Linux");
  add_filter (b, "tenancy", "Shared");
  add_filter (b, "preInstalledSw", "NA");
  add_filter (b, "capacitystatus", "Used");
  if (type != NULL)
    add_filter (b, "instanceType", type);
  args = g_strv_builder_end (b);
  doc = ferry_aws_call (p, "pricing", "get-products", (const char *const *) args, cancellable, error);
  if (doc == NULL)
    {
      pricing_failed (p, error ? *error : NULL);
      return NULL;
    }
  if (!ferry_pricing_parse_products (doc, prices, error))
    return NULL;
  if (g_hash_table_size (prices) == 0)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                         "the Pricing API lists no Linux on-demand price for %s in %s",
                         type ? type : "any instance type", region),
            NULL);
  if (type == NULL)
    {
      json_t *obj = json_object ();
      GHashTableIter it;
      gpointer k, v;

      g_hash_table_iter_init (&it, prices);
      while (g_hash_table_iter_next (&it, &k, &v))
        json_object_set_new (obj, k, json_real (*(double *) v));
      cache_write (aws, cache_dir, "prices", region, "prices", obj);
    }
  return g_steal_pointer (&prices);
}

/* A storage product's price per GB-month in `region`: the service, and the attribute that names the
 * product (gp3 volumes: volumeApiName=gp3; S3 Standard: volumeType=Standard). */
static gboolean
storage_price (FerryAws *aws, const char *region, const char *service, const char *key,
               const char *value, double *out_usd_gb_month, GCancellable *cancellable,
               GError **error)
{
  g_autoptr(FerryAws) p = pricing_aws (aws);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) doc = NULL;
  g_auto(GStrv) args = NULL;

  if (region == NULL)
    return ferry_throw (error, FERRY_ERROR_CONFIG, "no AWS region is set");
  g_strv_builder_add_many (b, "--service-code", service, "--format-version", "aws_v1",
                           "--filters", NULL);
  add_filter (b, "regionCode", region);
  add_filter (b, "productFamily", "Storage");
  add_filter (b, key, value);
  args = g_strv_builder_end (b);
  doc = ferry_aws_call (p, "pricing", "get-products", (const char *const *) args, cancellable, error);
  if (doc == NULL)
    {
      pricing_failed (p, error ? *error : NULL);
      return FALSE;
    }
  return ferry_pricing_parse_storage (doc, out_usd_gb_month, error);
}

gboolean
ferry_pricing_gp3 (FerryAws *aws, const char *region, double *out_usd_gb_month,
                   GCancellable *cancellable, GError **error)
{
  return storage_price (aws, region, "AmazonEC2", "volumeApiName", "gp3", out_usd_gb_month,
                        cancellable, error);
}

gboolean
ferry_pricing_s3_standard (FerryAws *aws, const char *region, double *out_usd_gb_month,
                           GCancellable *cancellable, GError **error)
{
  return storage_price (aws, region, "AmazonS3", "volumeType", "Standard", out_usd_gb_month,
                        cancellable, error);
}

/* --- spot prices --------------------------------------------------------------------------------- */

gboolean
ferry_pricing_parse_spot (json_t *doc, GHashTable *prices, GError **error)
{
  json_t *history = json_object_get (doc, "SpotPriceHistory");
  /* "type\nzone" -> the newest entry of that zone */
  g_autoptr(GHashTable) newest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter it;
  gpointer k, v;
  size_t i;
  json_t *e;

  if (!json_is_array (history))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "unexpected output from aws ec2 describe-spot-price-history: no "
                        "SpotPriceHistory");
  json_array_foreach (history, i, e)
    {
      const char *type = json_string_value (json_object_get (e, "InstanceType"));
      const char *zone = json_string_value (json_object_get (e, "AvailabilityZone"));
      const char *ts = json_string_value (json_object_get (e, "Timestamp"));
      json_t *old;
      char *key;

      if (type == NULL || zone == NULL || !json_is_string (json_object_get (e, "SpotPrice")))
        continue;
      key = g_strconcat (type, "\n", zone, NULL);
      old = g_hash_table_lookup (newest, key);
      if (old == NULL
          || g_strcmp0 (ts, json_string_value (json_object_get (old, "Timestamp"))) > 0)
        g_hash_table_insert (newest, key, e);
      else
        g_free (key);
    }
  g_hash_table_iter_init (&it, newest);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const char *type = json_string_value (json_object_get (v, "InstanceType"));
      const char *text = json_string_value (json_object_get (v, "SpotPrice"));
      FerrySpotPrice *old = g_hash_table_lookup (prices, type);
      char *end = NULL;
      double usd = g_ascii_strtod (text, &end);

      if (end == text || *end != '\0' || !isfinite (usd) || usd <= 0)
        continue;
      if (old == NULL || usd < old->usd
          || (usd == old->usd
              && g_strcmp0 (json_string_value (json_object_get (v, "AvailabilityZone")), old->zone)
                     < 0))
        {
          FerrySpotPrice *p = g_new0 (FerrySpotPrice, 1);
          p->usd = usd;
          p->zone = g_strdup (json_string_value (json_object_get (v, "AvailabilityZone")));
          g_hash_table_insert (prices, g_strdup (type), p);
        }
    }
  return TRUE;
}

GHashTable *
ferry_pricing_spot (FerryAws *aws, const char *const *types, const char *zone,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr(GHashTable) prices = ferry_pricing_table_new (TRUE);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *start = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  guint n = types ? g_strv_length ((char **) types) : 0;
  const guint chunk = 100;

  /* For many types, one call for the region's whole current list beats several filtered ones. */
  if (n > chunk)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_auto(GStrv) args = NULL;
      g_autoptr(json_t) doc = NULL;

      g_strv_builder_add_many (b, "--start-time", start, "--product-descriptions", "Linux/UNIX",
                               NULL);
      if (zone != NULL)
        g_strv_builder_add_many (b, "--availability-zone", zone, NULL);
      args = g_strv_builder_end (b);
      doc = ferry_aws_call (aws, "ec2", "describe-spot-price-history", (const char *const *) args,
                            cancellable, error);
      if (doc == NULL || !ferry_pricing_parse_spot (doc, prices, error))
        return NULL;
      return g_steal_pointer (&prices);
    }
  for (guint first = 0; first < n; first += chunk)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_auto(GStrv) args = NULL;
      g_autoptr(json_t) doc = NULL;

      g_strv_builder_add_many (b, "--start-time", start, "--product-descriptions", "Linux/UNIX",
                               NULL);
      if (zone != NULL)
        g_strv_builder_add_many (b, "--availability-zone", zone, NULL);
      g_strv_builder_add (b, "--instance-types");
      for (guint i = first; i < n && i < first + chunk; i++)
        g_strv_builder_add (b, types[i]);
      args = g_strv_builder_end (b);
      doc = ferry_aws_call (aws, "ec2", "describe-spot-price-history", (const char *const *) args,
                            cancellable, error);
      if (doc == NULL || !ferry_pricing_parse_spot (doc, prices, error))
        return NULL;
    }
  return g_steal_pointer (&prices);
}

/* --- a command's price book ------------------------------------------------------------------------- */

struct _FerryPriceBook
{
  FerryAws *aws; /* borrowed */
  char *region;
  GHashTable *on_demand; /* type -> double* */
  GHashTable *spot;      /* "type\nzone" -> double* (< 0: none) */
  char *pricing_error;   /* the Pricing API did not answer */
  char *spot_error;
  double gp3;
  gboolean gp3_asked;
};

FerryPriceBook *
ferry_price_book_new (FerryAws *aws, const char *region)
{
  FerryPriceBook *book = g_new0 (FerryPriceBook, 1);

  book->aws = aws;
  book->region = g_strdup (region);
  book->on_demand = ferry_pricing_table_new (FALSE);
  book->spot = ferry_pricing_table_new (FALSE);
  book->gp3 = -1;
  return book;
}

void
ferry_price_book_free (FerryPriceBook *book)
{
  if (book == NULL)
    return;
  g_free (book->region);
  g_hash_table_unref (book->on_demand);
  g_hash_table_unref (book->spot);
  g_free (book->pricing_error);
  g_free (book->spot_error);
  g_free (book);
}

static void
remember_price (GHashTable *table, const char *key, double usd)
{
  g_hash_table_insert (table, g_strdup (key), g_memdup2 (&usd, sizeof usd));
}

double
ferry_price_book_hourly (FerryPriceBook *book, const char *type, gboolean spot, const char *zone,
                         const char **why, GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  double *known;

  if (why)
    *why = NULL;
  if (type == NULL)
    {
      if (why)
        *why = "the instance type is not known";
      return -1;
    }
  if (spot)
    {
      g_autofree char *key = g_strconcat (type, "\n", zone ? zone : "", NULL);
      const char *const types[] = { type, NULL };
      g_autoptr(GHashTable) prices = NULL;
      FerrySpotPrice *p;

      if ((known = g_hash_table_lookup (book->spot, key)) == NULL)
        {
          prices = ferry_pricing_spot (book->aws, types, zone, cancellable, &error);
          p = prices ? g_hash_table_lookup (prices, type) : NULL;
          if (prices == NULL)
            {
              g_free (book->spot_error);
              book->spot_error = g_strdup (error->message);
            }
          remember_price (book->spot, key, p ? p->usd : -1);
          known = g_hash_table_lookup (book->spot, key);
        }
      if (*known < 0 && why)
        *why = book->spot_error ? book->spot_error : "no spot price history for it";
      return *known;
    }
  if ((known = g_hash_table_lookup (book->on_demand, type)) != NULL)
    {
      if (*known < 0 && why)
        *why = "the Pricing API lists no price for it";
      return *known;
    }
  if (book->pricing_error == NULL)
    {
      g_autoptr(GHashTable) prices = ferry_pricing_on_demand (book->aws, book->region, type, NULL,
                                                              cancellable, &error);
      double *usd = prices ? g_hash_table_lookup (prices, type) : NULL;

      if (usd != NULL)
        {
          remember_price (book->on_demand, type, *usd);
          return *usd;
        }
      /* A type the API does not list is unknown alone; an API that does not answer, for all. */
      if (prices == NULL && !g_error_matches (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        book->pricing_error = g_strdup (error->message);
      else
        remember_price (book->on_demand, type, -1);
      if (why)
        *why = book->pricing_error ? book->pricing_error : "the Pricing API lists no price for it";
      return -1;
    }
  if (why)
    *why = book->pricing_error;
  return -1;
}

double
ferry_price_book_gp3 (FerryPriceBook *book, const char **why, GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;

  if (why)
    *why = NULL;
  if (!book->gp3_asked && book->pricing_error == NULL)
    {
      book->gp3_asked = TRUE;
      if (!ferry_pricing_gp3 (book->aws, book->region, &book->gp3, cancellable, &error))
        {
          book->gp3 = -1;
          book->pricing_error = g_strdup (error->message);
        }
    }
  if (book->gp3 < 0 && why)
    *why = book->pricing_error ? book->pricing_error : "no gp3 price";
  return book->gp3;
}
