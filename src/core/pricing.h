/* What AWS says things cost: the region's instance types (cached a day), on-demand prices from the
 * Pricing API, the cheapest current spot price, and the gp3 volume price. A price AWS does not give
 * is unknown, never guessed. */
#pragma once

#include "aws.h"

G_BEGIN_DECLS

/* Where the Pricing API answers, whatever the deployment's region. */
#define FERRY_PRICING_REGION "us-east-1"
/* How long the instance types and prices kept in the state dir stay good. */
#define FERRY_PRICING_CACHE_SECONDS (24 * 3600)

typedef struct
{
  char *name;
  guint vcpus;
  gint64 memory_mib;
  gboolean x86_64;
  gboolean arm64;
  gboolean current_generation;
  gboolean on_demand;    /* offered on demand */
  gboolean spot;         /* offered as spot */
  gboolean bare_metal;
  gboolean accelerators; /* FPGA, inference, Neuron or media accelerators */
  guint gpus;
  gboolean nvidia;       /* its GPUs are NVIDIA's */
} FerryInstanceType;

void ferry_instance_type_free (FerryInstanceType *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryInstanceType, ferry_instance_type_free)
FerryInstanceType *ferry_instance_type_copy (const FerryInstanceType *t);

/* The types of a describe-instance-types answer, or of ferry's cache of one (their "types"). */
GPtrArray *ferry_instance_types_parse (json_t *doc, GError **error);
json_t *ferry_instance_types_to_json (GPtrArray *types);


/* The region's instance types: from `cache_dir` when fetched there less than a day ago for the same
 * endpoint and region, else describe-instance-types (then kept in `cache_dir` unless NULL). */
GPtrArray *ferry_instance_types_load (FerryAws *aws, const char *region, const char *cache_dir,
                                      GCancellable *cancellable, GError **error);

/* The architecture an AMI for type `name` must have: "arm64" for a type that runs only arm64
 * (Graviton), "x86_64" for one that runs x86_64; NULL when `types` does not list it. */
const char *ferry_instance_type_arch (GPtrArray *types, const char *name);

/* Hourly on-demand USD by instance type (char* -> double*) from a get-products answer: products
 * for Linux, shared tenancy, no pre-installed software, used capacity, billed as BoxUsage; other
 * items are skipped. A type listed twice keeps its lowest price. */
gboolean ferry_pricing_parse_products (json_t *doc, GHashTable *prices, GError **error);

/* USD per GB-month of the storage product in a get-products answer. */
gboolean ferry_pricing_parse_storage (json_t *doc, double *out_usd_gb_month, GError **error);

typedef struct
{
  double usd; /* per hour */
  char *zone;
} FerrySpotPrice;

void ferry_spot_price_free (FerrySpotPrice *p);

/* The cheapest zone's current price by instance type (char* -> FerrySpotPrice*) from a
 * describe-spot-price-history answer: the newest price of each zone, then the lowest of those. */
gboolean ferry_pricing_parse_spot (json_t *doc, GHashTable *prices, GError **error);

/* A table for the parsers above. */
GHashTable *ferry_pricing_table_new (gboolean spot);

/* On-demand prices in `region` from the Pricing API: of `type`, or of every type with NULL (kept
 * a day in `cache_dir` unless NULL). An error means the price is unknown (no permission, an
 * emulator without the Pricing API). */
GHashTable *ferry_pricing_on_demand (FerryAws *aws, const char *region, const char *type,
                                     const char *cache_dir, GCancellable *cancellable,
                                     GError **error);

/* S3 Standard storage in `region`, USD per GB-month (its first tier), from the Pricing API: the
 * store's cost. */
gboolean ferry_pricing_s3_standard (FerryAws *aws, const char *region, double *out_usd_gb_month,
                                    GCancellable *cancellable, GError **error);

/* gp3 storage in `region`, USD per GB-month, from the Pricing API. */
gboolean ferry_pricing_gp3 (FerryAws *aws, const char *region, double *out_usd_gb_month,
                            GCancellable *cancellable, GError **error);

/* Current spot prices of `types` in the deployment's region, the cheapest zone of each (or, with
 * `zone`, that zone's). */
GHashTable *ferry_pricing_spot (FerryAws *aws, const char *const *types, const char *zone,
                                GCancellable *cancellable, GError **error);

/* Prices asked once per command (status, ls): each answer, or the reason it is unknown, is kept,
 * and once the Pricing API has not answered it is not asked again. */
typedef struct _FerryPriceBook FerryPriceBook;

FerryPriceBook *ferry_price_book_new (FerryAws *aws, const char *region);
void ferry_price_book_free (FerryPriceBook *book);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryPriceBook, ferry_price_book_free)

/* USD per hour of `type`: on demand, or with `spot` the current spot price in `zone` (NULL: the
 * cheapest zone). < 0: unknown, and *why (borrowed, may be NULL) says why. */
double ferry_price_book_hourly (FerryPriceBook *book, const char *type, gboolean spot,
                                const char *zone, const char **why, GCancellable *cancellable);
/* USD per GB-month of gp3 storage; < 0: unknown. */
double ferry_price_book_gp3 (FerryPriceBook *book, const char **why, GCancellable *cancellable);

/* "$1.23" (cents) or "$0.0416" (below a dollar, four places); "unknown" when usd < 0. */
char *ferry_format_usd (double usd);

/* What an instance that ran `seconds` cost at `hourly` USD, as EC2 bills Linux: by the second, a
 * minute at least. < 0: unknown (the price or the time). */
double ferry_price_for_seconds (double hourly, gint64 seconds);

G_END_DECLS
