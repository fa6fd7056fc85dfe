/* Unit tests for right-sizing: snakemake's resource values (7.21 and 8 records), the pricing parsers
 * against recorded AWS answers (tests/data/pricing), and which types fit and in what order. */
#include "core/budget.h"
#include "core/plan.h"
#include "test-init.h"

static json_t *
load_data (const char *name)
{
  g_autofree char *path = g_build_filename (FERRY_TEST_DATA, "pricing", name, NULL);
  json_error_t jerr;
  json_t *doc = json_load_file (path, 0, &jerr);

  if (doc == NULL)
    g_error ("%s: %s", path, jerr.text);
  return doc;
}

static void
test_size_values (void)
{
  static const struct
  {
    const char *text;
    gint64 mb;
  } good[] = {
    { "100G", 100000 },    { "100GB", 100000 },  { "100 gb", 100000 },  { "1.5 TB", 1500000 },
    { "500MiB", 525 },     { "10 GiB", 10738 },  { "2048", 1 },         { "0", 0 },
    { "512M", 512 },       { " 8g ", 8000 },     { "1T", 1000000 },     { "3000000K", 3000 },
  };
  static const char *const bad[] = { "", "G", "-5G", "10 parsecs", "<TBD>", "ten GB", ".", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      gint64 mb = -1;
      g_assert_true (ferry_snakemake_parse_size_mb (good[i].text, &mb));
      g_assert_cmpint (mb, ==, good[i].mb);
    }
  for (guint i = 0; bad[i] != NULL; i++)
    {
      gint64 mb = -1;
      g_assert_false (ferry_snakemake_parse_size_mb (bad[i], &mb));
    }
}

static void
test_runtime_values (void)
{
  static const struct
  {
    const char *text;
    gint64 min;
  } good[] = {
    { "90m", 90 }, { "2h", 120 },   { "1.5 days", 2160 }, { "30", 1 },
    { "45s", 1 },  { "1 week", 10080 }, { "90 minutes", 90 }, { "3 hours", 180 },
  };
  static const char *const bad[] = { "", "soon", "<TBD>", "1h30m", "-2h", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      gint64 min = -1;
      g_assert_true (ferry_snakemake_parse_runtime_min (good[i].text, &min));
      g_assert_cmpint (min, ==, good[i].min);
    }
  for (guint i = 0; bad[i] != NULL; i++)
    {
      gint64 min = -1;
      g_assert_false (ferry_snakemake_parse_runtime_min (bad[i], &min));
    }
}

static FerryPlan *
plan_from (const char *records)
{
  g_autoptr(GError) error = NULL;
  FerryPlan *plan = ferry_snakemake_plan_from_records (records, strlen (records), "/w", NULL, NULL,
                                                       &error);
  g_assert_no_error (error);
  return plan;
}

static void
test_needs_snakemake7 (void)
{
  /* Recorded from snakemake 7.21 through templates/snakemake-jobs.py (dry run, --cores 1024): it
   * derives mem_mb from mem="100G" and mem_mib/disk_mib from mem_mb/disk_mb, rounding up. */
  static const char records[] =
    "{\"job\": {\"id\": 1, \"rule\": \"b\", \"input\": [\"a.txt\"], \"output\": [\"b.txt\"], \"log\": [], \"threads\": 16, "
    "\"resources\": {\"tmpdir\": \"/tmp\", \"mem_mb\": 120000, \"mem_mib\": 114441, \"runtime\": 90, \"disk_mb\": 5000, \"disk_mib\": 4769}}}\n"
    "{\"job\": {\"id\": 2, \"rule\": \"c\", \"input\": [\"a.txt\"], \"output\": [\"c.txt\"], \"log\": [], \"threads\": 4, "
    "\"resources\": {\"tmpdir\": \"/tmp\", \"mem\": \"100G\", \"mem_mb\": 100000, \"gpu\": 1, \"nvidia_gpu\": 1, \"mem_gb\": 3}}}\n"
    "{\"job\": {\"id\": 0, \"rule\": \"all\", \"input\": [\"b.txt\", \"c.txt\"], \"output\": [], \"log\": [], \"threads\": 1, "
    "\"resources\": {\"tmpdir\": \"/tmp\"}}}\n"
    "{\"sources\": [\"Snakefile\"]}\n";
  g_autoptr(FerryPlan) plan = plan_from (records);

  g_assert_cmpuint (plan->n_jobs, ==, 3);
  g_assert_cmpuint (plan->needs.threads, ==, 16);
  g_assert_cmpint (plan->needs.mem_mb, ==, 120000);
  g_assert_cmpint (plan->needs.disk_mb, ==, 5000);
  g_assert_cmpint (plan->needs.runtime_min, ==, 90);
  g_assert_cmpuint (plan->needs.gpus, ==, 1);
  g_assert_true (plan->needs.nvidia);
}

static void
test_needs_snakemake8 (void)
{
  /* Snakemake 8's layout: resources that depend on the inputs are "<TBD>" in a dry run, mem and
   * runtime may stay human-readable strings next to what it infers, and mem_gb is the user's own. */
  static const char records[] =
    "{\"job\": {\"id\": 3, \"rule\": \"big\", \"input\": [], \"output\": [\"x\"], \"threads\": 8, "
    "\"resources\": {\"mem_mb\": \"<TBD>\", \"disk_mb\": \"<TBD>\", \"tmpdir\": \"<TBD>\", \"mem\": \"250G\", \"runtime\": \"6h\"}}}\n"
    "{\"job\": {\"id\": 4, \"rule\": \"gb\", \"input\": [], \"output\": [\"y\"], \"threads\": 2, "
    "\"resources\": {\"mem_gb\": 300, \"disk\": \"1.5TB\", \"disk_mb\": 1500000, \"gpus\": 2}}}\n"
    "{\"job\": {\"id\": 5, \"rule\": \"d\", \"input\": [], \"output\": [\"z\"], \"threads\": null, "
    "\"resources\": {\"disk_gb\": 2, \"mem_mb\": \"64000\", \"runtime\": 30}}}\n";
  g_autoptr(FerryPlan) plan = plan_from (records);

  g_assert_cmpuint (plan->needs.threads, ==, 8);
  g_assert_cmpint (plan->needs.mem_mb, ==, 300000);
  g_assert_cmpint (plan->needs.disk_mb, ==, 1500000 + 2000);
  g_assert_cmpint (plan->needs.runtime_min, ==, 360);
  g_assert_cmpuint (plan->needs.gpus, ==, 2);
  g_assert_false (plan->needs.nvidia);
}

static void
test_needs_snakemake9 (void)
{
  /* Recorded from snakemake 9.16.3 through ferry's logger plugin: mem and disk are derived for
   * people ("2.15 GB" from mem_mib=2048), rounded up; the exact values win. */
  static const char records[] =
    "{\"job\": {\"id\": 0, \"rule\": \"m_mib\", \"input\": [], \"output\": [\"m_mib\"], \"log\": [], \"threads\": 5, "
    "\"resources\": {\"tmpdir\": \"/tmp\", \"runtime\": 120, \"mem_mb\": 2147, \"mem\": \"2.15 GB\", \"mem_mib\": 2048}}}\n"
    "{\"job\": {\"id\": 1, \"rule\": \"m_gib\", \"input\": [], \"output\": [\"m_gib\"], \"log\": [], \"threads\": 1, "
    "\"resources\": {\"tmpdir\": \"/tmp\", \"mem_gib\": 2, \"disk_mb\": 2000, \"disk\": \"2 GB\", \"disk_mib\": 1908}}}\n";
  g_autoptr(FerryPlan) plan = plan_from (records);

  g_assert_cmpuint (plan->n_jobs, ==, 2);
  g_assert_cmpuint (plan->needs.threads, ==, 5);
  g_assert_cmpint (plan->needs.mem_mb, ==, 2147);
  g_assert_cmpint (plan->needs.disk_mb, ==, 2000);
  g_assert_cmpint (plan->needs.runtime_min, ==, 120);
}

static void
test_needs_odd_values (void)
{
  FerryJobNeeds needs = { 0 };
  g_autoptr(json_t) odd = json_loads ("{\"mem_mb\": -5, \"mem\": [1], \"disk_mb\": 1e300, \"runtime\": \"soon\", "
                                      "\"gpu\": \"many\", \"nvidia_gpu\": 0}",
                                      0, NULL);
  g_autoptr(json_t) threads = json_string ("lots");

  ferry_snakemake_needs_add (&needs, threads, odd);
  g_assert_cmpuint (needs.threads, ==, 1);
  g_assert_cmpint (needs.mem_mb, ==, 0);
  g_assert_cmpint (needs.disk_mb, ==, 0);
  g_assert_cmpint (needs.runtime_min, ==, 0);
  g_assert_cmpuint (needs.gpus, ==, 0);
  g_assert_false (needs.nvidia);
  ferry_snakemake_needs_add (&needs, NULL, NULL);
  g_assert_cmpuint (needs.threads, ==, 1);
}

static void
test_parse_products (void)
{
  g_autoptr(json_t) doc = load_data ("get-products-m5.large.json");
  g_autoptr(GHashTable) prices = ferry_pricing_table_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) item = NULL;
  g_autoptr(json_t) dedicated = NULL;
  g_autoptr(json_t) bad = json_pack ("{s:[s]}", "PriceList", "{not json");
  g_autofree char *text = NULL;
  double *usd;

  g_assert_true (ferry_pricing_parse_products (doc, prices, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (prices), ==, 1);
  usd = g_hash_table_lookup (prices, "m5.large");
  g_assert_nonnull (usd);
  g_assert_cmpfloat_with_epsilon (*usd, 0.096, 1e-9);

  /* The same product on a dedicated host is not what a launch pays. */
  item = json_loads (json_string_value (json_array_get (json_object_get (doc, "PriceList"), 0)), 0, NULL);
  json_object_set_new (json_object_get (json_object_get (item, "product"), "attributes"), "tenancy",
                       json_string ("Dedicated"));
  text = json_dumps (item, JSON_COMPACT);
  dedicated = json_pack ("{s:[s]}", "PriceList", text);
  g_hash_table_remove_all (prices);
  g_assert_true (ferry_pricing_parse_products (dedicated, prices, &error));
  g_assert_cmpuint (g_hash_table_size (prices), ==, 0);

  g_assert_false (ferry_pricing_parse_products (bad, prices, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA);
}

static void
test_parse_storage (void)
{
  /* The shape of a storage price list item (productFamily Storage, a GB-Mo dimension). */
  static const char item[] =
    "{\"product\": {\"productFamily\": \"Storage\", \"attributes\": {\"volumeApiName\": \"gp3\", \"regionCode\": \"eu-central-1\"}}, "
    "\"terms\": {\"OnDemand\": {\"S.T\": {\"priceDimensions\": {\"S.T.D\": {\"unit\": \"GB-Mo\", \"pricePerUnit\": {\"USD\": \"0.0952000000\"}}}}}}}";
  g_autoptr(json_t) doc = json_pack ("{s:s, s:[s]}", "FormatVersion", "aws_v1", "PriceList", item);
  g_autoptr(json_t) none = json_pack ("{s:[]}", "PriceList");
  g_autoptr(GError) error = NULL;
  double usd = -1;

  g_assert_true (ferry_pricing_parse_storage (doc, &usd, &error));
  g_assert_cmpfloat_with_epsilon (usd, 0.0952, 1e-9);
  g_assert_false (ferry_pricing_parse_storage (none, &usd, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
}

static void
test_parse_storage_tiers (void)
{
  /* The shape of S3 Standard's item (volumeType Standard): three tiers of GB-Mo, given here last
   * tier first; the price a store pays is the first tier's. */
  static const char item[] =
    "{\"product\": {\"productFamily\": \"Storage\", \"attributes\": {\"volumeType\": \"Standard\", \"storageClass\": \"General Purpose\", \"regionCode\": \"eu-central-1\"}}, "
    "\"terms\": {\"OnDemand\": {\"S.T\": {\"priceDimensions\": {"
    "\"S.T.3\": {\"unit\": \"GB-Mo\", \"beginRange\": \"512000\", \"endRange\": \"Inf\", \"description\": \"over 500 TB\", \"pricePerUnit\": {\"USD\": \"0.0231000000\"}}, "
    "\"S.T.1\": {\"unit\": \"GB-Mo\", \"beginRange\": \"0\", \"endRange\": \"51200\", \"description\": \"first 50 TB\", \"pricePerUnit\": {\"USD\": \"0.0245000000\"}}, "
    "\"S.T.2\": {\"unit\": \"GB-Mo\", \"beginRange\": \"51200\", \"endRange\": \"512000\", \"description\": \"next 450 TB\", \"pricePerUnit\": {\"USD\": \"0.0235000000\"}}}}}}}";
  g_autoptr(json_t) doc = json_pack ("{s:s, s:[s]}", "FormatVersion", "aws_v1", "PriceList", item);
  g_autoptr(GError) error = NULL;
  double usd = -1;

  g_assert_true (ferry_pricing_parse_storage (doc, &usd, &error));
  g_assert_cmpfloat_with_epsilon (usd, 0.0245, 1e-9);
}

static void
test_parse_spot (void)
{
  g_autoptr(json_t) doc = load_data ("describe-spot-price-history-m5.large.json");
  g_autoptr(GHashTable) prices = ferry_pricing_table_new (TRUE);
  g_autoptr(GError) error = NULL;
  FerrySpotPrice *p;

  g_assert_true (ferry_pricing_parse_spot (doc, prices, &error));
  g_assert_no_error (error);
  p = g_hash_table_lookup (prices, "m5.large");
  g_assert_nonnull (p);
  /* Each zone's newest price, then the cheapest zone. */
  g_assert_cmpfloat_with_epsilon (p->usd, 0.0381, 1e-9);
  g_assert_cmpstr (p->zone, ==, "us-east-1c");
}

static void
test_parse_types (void)
{
  g_autoptr(json_t) doc = load_data ("describe-instance-types-g2.2xlarge.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) types = ferry_instance_types_parse (doc, &error);
  g_autoptr(json_t) cache = NULL;
  g_autoptr(json_t) wrapped = NULL;
  g_autoptr(GPtrArray) again = NULL;
  FerryInstanceType *t;

  g_assert_no_error (error);
  g_assert_cmpuint (types->len, ==, 1);
  t = types->pdata[0];
  g_assert_cmpstr (t->name, ==, "g2.2xlarge");
  g_assert_cmpuint (t->vcpus, ==, 8);
  g_assert_cmpint (t->memory_mib, ==, 15360);
  g_assert_true (t->x86_64);
  g_assert_false (t->arm64);
  g_assert_false (t->current_generation);
  g_assert_true (t->on_demand);
  g_assert_false (t->spot);
  g_assert_false (t->bare_metal);
  g_assert_false (t->accelerators); /* "FpgaInfo": null is no FPGA */
  g_assert_cmpuint (t->gpus, ==, 1);
  g_assert_true (t->nvidia);

  /* ferry's cache holds the same facts. */
  cache = ferry_instance_types_to_json (types);
  wrapped = json_pack ("{s:O}", "types", cache);
  again = ferry_instance_types_parse (wrapped, &error);
  g_assert_no_error (error);
  t = again->pdata[0];
  g_assert_cmpstr (t->name, ==, "g2.2xlarge");
  g_assert_cmpuint (t->gpus, ==, 1);
  g_assert_true (t->nvidia && t->on_demand && !t->spot && !t->current_generation);
}

static FerryInstanceType *
mk (const char *name, guint vcpus, gint64 mib)
{
  FerryInstanceType *t = g_new0 (FerryInstanceType, 1);

  t->name = g_strdup (name);
  t->vcpus = vcpus;
  t->memory_mib = mib;
  t->x86_64 = TRUE;
  t->current_generation = TRUE;
  t->on_demand = TRUE;
  t->spot = TRUE;
  return t;
}

static GPtrArray *
catalogue (void)
{
  GPtrArray *types = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_instance_type_free);
  FerryInstanceType *t;

  g_ptr_array_add (types, mk ("x2iedn.4xlarge", 16, 524288));
  g_ptr_array_add (types, mk ("r6i.8xlarge", 32, 262144));
  g_ptr_array_add (types, mk ("z1d.6xlarge", 24, 196608));
  g_ptr_array_add (types, mk ("i4i.8xlarge", 32, 262144));
  g_ptr_array_add (types, mk ("m6i.8xlarge", 32, 131072)); /* too little memory */
  g_ptr_array_add (types, mk ("r6i.4xlarge", 16, 131072)); /* 128 GiB < 132,000 MiB */
  g_ptr_array_add (types, mk ("m6i.12xlarge", 48, 196608));
  g_ptr_array_add (types, mk ("c6i.12xlarge", 48, 98304)); /* too little memory */
  g_ptr_array_add (types, mk ("r5.8xlarge", 32, 262144));
  t = mk ("r6i.metal", 128, 1048576);
  t->bare_metal = TRUE;
  g_ptr_array_add (types, t);
  t = mk ("g5.8xlarge", 32, 131072 * 2);
  t->gpus = 1;
  t->nvidia = TRUE;
  g_ptr_array_add (types, t);
  t = mk ("inf2.24xlarge", 96, 393216);
  t->accelerators = TRUE;
  g_ptr_array_add (types, t);
  t = mk ("r7g.8xlarge", 32, 262144);
  t->x86_64 = FALSE;
  t->arm64 = TRUE;
  g_ptr_array_add (types, t);
  t = mk ("r4.8xlarge", 32, 249856);
  t->current_generation = FALSE;
  g_ptr_array_add (types, t);
  t = mk ("r6a.8xlarge", 32, 262144);
  t->spot = FALSE;
  g_ptr_array_add (types, t);
  return types;
}

static char *
names (GPtrArray *ranked)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; i < ranked->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "",
                            ((FerryCandidate *) ranked->pdata[i])->type->name);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
put (GHashTable *prices, const char *type, double usd)
{
  g_hash_table_insert (prices, g_strdup (type), g_memdup2 (&usd, sizeof usd));
}

static void
test_fit_and_order (void)
{
  g_autoptr(GPtrArray) types = catalogue ();
  FerryQuoteOptions opts = { .arch = "x86_64", .max_hours = 12 };
  FerryNeeds needs = { 0 };
  g_autoptr(GPtrArray) ranked = NULL;
  g_autoptr(GHashTable) od = ferry_pricing_table_new (FALSE);
  g_autoptr(GHashTable) spot = ferry_pricing_table_new (TRUE);
  g_autofree char *got = NULL;
  FerrySpotPrice *sp;

  needs.jobs.threads = 16;
  needs.jobs.mem_mb = 120000;
  needs.memory_mib = 132000;

  /* No prices: vCPUs, then memory, then family (m, c, r before the rest), then name. */
  ranked = ferry_quote_rank (types, &needs, &opts, NULL, NULL);
  got = names (ranked);
  g_assert_cmpstr (got, ==,
                   "x2iedn.4xlarge z1d.6xlarge r5.8xlarge r6a.8xlarge r6i.8xlarge i4i.8xlarge "
                   "m6i.12xlarge");
  g_clear_pointer (&ranked, g_ptr_array_unref);
  g_clear_pointer (&got, g_free);

  /* Known prices first, cheapest first; a tie goes by size; the unknown last. */
  put (od, "r6i.8xlarge", 2.016);
  put (od, "r5.8xlarge", 2.016);
  put (od, "m6i.12xlarge", 2.304);
  put (od, "z1d.6xlarge", 2.232);
  put (od, "r6a.8xlarge", 1.8144);
  put (od, "i4i.8xlarge", 2.746);
  ranked = ferry_quote_rank (types, &needs, &opts, od, NULL);
  got = names (ranked);
  g_assert_cmpstr (got, ==,
                   "r6a.8xlarge r5.8xlarge r6i.8xlarge z1d.6xlarge m6i.12xlarge i4i.8xlarge "
                   "x2iedn.4xlarge");
  g_assert_cmpfloat (((FerryCandidate *) ranked->pdata[0])->on_demand, ==, 1.8144);
  g_assert_cmpfloat (((FerryCandidate *) ranked->pdata[6])->on_demand, <, 0);
  g_clear_pointer (&ranked, g_ptr_array_unref);
  g_clear_pointer (&got, g_free);

  /* --spot: only types offered as spot, ranked by the spot price. */
  opts.spot = TRUE;
  sp = g_new0 (FerrySpotPrice, 1);
  sp->usd = 0.5;
  sp->zone = g_strdup ("eu-central-1b");
  g_hash_table_insert (spot, g_strdup ("i4i.8xlarge"), sp);
  ranked = ferry_quote_rank (types, &needs, &opts, od, spot);
  got = names (ranked);
  g_assert_cmpstr (got, ==,
                   "i4i.8xlarge x2iedn.4xlarge z1d.6xlarge r5.8xlarge r6i.8xlarge m6i.12xlarge");
  g_assert_cmpstr (((FerryCandidate *) ranked->pdata[0])->spot_zone, ==, "eu-central-1b");
  g_clear_pointer (&ranked, g_ptr_array_unref);
  g_clear_pointer (&got, g_free);
  opts.spot = FALSE;

  /* arm64 */
  opts.arch = "arm64";
  ranked = ferry_quote_rank (types, &needs, &opts, NULL, NULL);
  got = names (ranked);
  g_assert_cmpstr (got, ==, "r7g.8xlarge");
  g_clear_pointer (&ranked, g_ptr_array_unref);
  g_clear_pointer (&got, g_free);
  opts.arch = "x86_64";

  /* A GPU asked for: only GPU types, never the other accelerators. */
  needs.gpus = 1;
  needs.jobs.nvidia = TRUE;
  needs.memory_mib = 0;
  ranked = ferry_quote_rank (types, &needs, &opts, NULL, NULL);
  got = names (ranked);
  g_assert_cmpstr (got, ==, "g5.8xlarge");
}

static void
test_worst_case (void)
{
  FerryQuote q = { 0 };
  FerryCandidate c = { 0 };

  q.opts.max_hours = 10;
  q.needs.volume_gb = 73;
  q.gp3_usd_gb_month = 0.08;
  c.on_demand = 2.0;
  c.spot = -1;
  /* 10 h at $2, and 73 GB at $0.08 a month (730 h) for 10 h. */
  g_assert_cmpfloat_with_epsilon (ferry_quote_worst_case (&q, &c), 20.08, 1e-9);
  g_assert_cmpfloat_with_epsilon (ferry_quote_volume_month (&q), 5.84, 1e-9);
  q.opts.spot = TRUE;
  g_assert_cmpfloat (ferry_quote_worst_case (&q, &c), <, 0);
  q.opts.spot = FALSE;
  q.gp3_usd_gb_month = -1;
  g_assert_cmpfloat (ferry_quote_worst_case (&q, &c), <, 0);
}

static void
test_budget_values (void)
{
  static const struct
  {
    const char *text, *amount;
  } good[] = { { "50", "50" }, { "50.00", "50" }, { "12.5", "12.5" }, { "12.50", "12.5" },
               { "0.01", "0.01" }, { "007", "7" }, { "1000000", "1000000" } };
  static const char *const bad_amounts[] = { "", "0", "0.00", "-5", "abc", "12.345", "1e3", "$50",
                                             "50 USD", "1000000.01", "12,50", NULL };
  static const char *const good_mail[] = { "you@example.org", "a.b+ferry@mail.example.co.uk", NULL };
  static const char *const bad_mail[] = { "", "you", "you@", "@example.org", "you@example",
                                          "you @example.org", "a@b@example.org", "you@exa mple.org",
                                          NULL };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *amount = NULL;
      g_assert_true (ferry_budget_amount_validate (good[i].text, &amount, &error));
      g_assert_cmpstr (amount, ==, good[i].amount);
    }
  for (guint i = 0; bad_amounts[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (ferry_budget_amount_validate (bad_amounts[i], NULL, &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
    }
  for (guint i = 0; good_mail[i] != NULL; i++)
    g_assert_true (ferry_budget_email_validate (good_mail[i], NULL));
  for (guint i = 0; bad_mail[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (ferry_budget_email_validate (bad_mail[i], &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
    }
}

/* A recovery's next type runs the same AMI: the refused type's architecture decides. */
static void
test_type_arch (void)
{
  g_autoptr(GPtrArray) types = catalogue ();

  g_assert_cmpstr (ferry_instance_type_arch (types, "r7g.8xlarge"), ==, "arm64");
  g_assert_cmpstr (ferry_instance_type_arch (types, "r5.8xlarge"), ==, "x86_64");
  g_assert_null (ferry_instance_type_arch (types, "x9.nothing"));
  g_assert_null (ferry_instance_type_arch (types, NULL));
}

/* An interrupted instance's cost: by the second, a minute at least, unknown when the price is. */
static void
test_price_for_seconds (void)
{
  g_assert_cmpfloat_with_epsilon (ferry_price_for_seconds (0.0360, 1800), 0.0180, 1e-12);
  g_assert_cmpfloat_with_epsilon (ferry_price_for_seconds (0.0360, 5400), 0.0540, 1e-12);
  g_assert_cmpfloat_with_epsilon (ferry_price_for_seconds (0.0360, 10), 0.0006, 1e-12);
  g_assert_cmpfloat_with_epsilon (ferry_price_for_seconds (0.0360, 0), 0.0006, 1e-12);
  g_assert_cmpfloat (ferry_price_for_seconds (-1, 1800), <, 0);
  g_assert_cmpfloat (ferry_price_for_seconds (0.0360, -1), <, 0);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/plan/size-values", test_size_values);
  g_test_add_func ("/plan/runtime-values", test_runtime_values);
  g_test_add_func ("/plan/needs-snakemake7", test_needs_snakemake7);
  g_test_add_func ("/plan/needs-snakemake8", test_needs_snakemake8);
  g_test_add_func ("/plan/needs-snakemake9", test_needs_snakemake9);
  g_test_add_func ("/plan/needs-odd-values", test_needs_odd_values);
  g_test_add_func ("/plan/parse-products", test_parse_products);
  g_test_add_func ("/plan/parse-storage", test_parse_storage);
  g_test_add_func ("/plan/parse-storage-tiers", test_parse_storage_tiers);
  g_test_add_func ("/plan/parse-spot", test_parse_spot);
  g_test_add_func ("/plan/parse-types", test_parse_types);
  g_test_add_func ("/plan/fit-and-order", test_fit_and_order);
  g_test_add_func ("/plan/worst-case", test_worst_case);
  g_test_add_func ("/plan/price-for-seconds", test_price_for_seconds);
  g_test_add_func ("/plan/type-arch", test_type_arch);
  g_test_add_func ("/plan/budget-values", test_budget_values);
  return g_test_run ();
}
