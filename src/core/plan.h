/* Right-sizing a target before paying: what its jobs need (threads, memory, disk, runtime, bytes to
 * push), the instance types of the region that fit, cheapest first, and what they cost. */
#pragma once

#include "pricing.h"
#include "snakemake.h"

G_BEGIN_DECLS

/* Memory headroom over the largest mem_mb, in percent. */
#define FERRY_PLAN_MEM_HEADROOM 10
/* Room on the volume for the system, snakemake and its environments, in GB. */
#define FERRY_PLAN_SYSTEM_GB 10
/* How many types the plan lists. */
#define FERRY_PLAN_LIST 5

typedef struct _FerryQuoteOptions
{
  const char *arch; /* "x86_64" (the default AMI) or "arm64" */
  gboolean spot;    /* rank by the spot price, and only types offered as spot */
  gboolean gpu;     /* GPUs even when no job asks for one */
  gint64 max_hours; /* the lifetime cap, for the worst case */
  gint64 volume_gb; /* > 0: this volume instead of the one sized from the plan */
  const char *instance_type; /* this type is the chosen one, fitting or not (--instance-type) */
} FerryQuoteOptions;

typedef struct
{
  guint n_jobs;
  FerryJobNeeds jobs;
  gint64 memory_mib;   /* what a type must have: mem_mb + headroom (0: none asked) */
  guint gpus;          /* GPUs a type must have (0: none, and no accelerator at all) */
  guint64 input_bytes; /* the inputs that go along, on disk here */
  guint64 push_bytes;  /* inputs and workflow files */
  guint64 disk_bytes;  /* what the jobs need on the instance's disk */
  gboolean disk_from_jobs; /* inputs + the jobs' disk_mb; else inputs × 2 */
  gint64 volume_gb;        /* the gp3 root volume: disk + the system's room */
} FerryNeeds;

typedef struct
{
  FerryInstanceType *type;
  double on_demand; /* USD per hour; < 0: unknown */
  double spot;      /* USD per hour in the cheapest zone; < 0: unknown */
  char *spot_zone;
} FerryCandidate;

void ferry_candidate_free (FerryCandidate *c);

typedef struct _FerryQuote
{
  FerryNeeds needs;
  FerryQuoteOptions opts;
  char *region;
  char *types_error;     /* why there are no instance types (AWS did not answer); NULL: there are */
  guint n_types;         /* in the region */
  guint n_fitting;
  GPtrArray *candidates; /* the cheapest fitting types, in order, at most FERRY_PLAN_LIST */
  FerryCandidate *chosen; /* what a launch takes: opts->instance_type, else the first candidate;
                           * NULL when none fits (or, for instance_type, the region lacks it) */
  FerryInstanceType *largest; /* the region's largest type by memory, then vCPUs (when none fits) */
  char *on_demand_error; /* why on-demand prices are unknown; NULL: from the Pricing API */
  char *spot_error;      /* why spot prices are unknown */
  double gp3_usd_gb_month; /* < 0: unknown */
  char *gp3_error;
} FerryQuote;

void ferry_quote_free (FerryQuote *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryQuote, ferry_quote_free)

/* The needs of a snakemake plan: its jobs' resources, and the sizes on disk of its inputs (and,
 * for the push, its workflow files). */
void ferry_needs_from_plan (const FerryPlan *plan, const FerryQuoteOptions *opts, FerryNeeds *needs);

/* Whether `t` fits: vCPUs, memory with headroom, architecture, current generation, offered for the
 * usage class, no bare metal, no accelerator unless GPUs are asked for (then enough GPUs, NVIDIA's
 * when asked as nvidia_gpu). */
gboolean ferry_instance_type_fits (const FerryInstanceType *t, const FerryNeeds *needs,
                                   const FerryQuoteOptions *opts);

/* Every fitting type of `types`, as FerryCandidates in order: by the price that counts (on-demand,
 * or spot with opts->spot) where known, cheapest first, before those without one; ties and unknowns
 * by vCPUs, then memory, then family (m, c, r before the rest), then name. `on_demand` and `spot`
 * may be NULL. */
GPtrArray *ferry_quote_rank (GPtrArray *types, const FerryNeeds *needs,
                             const FerryQuoteOptions *opts, GHashTable *on_demand,
                             GHashTable *spot);

/* The plan's numbers from AWS: the region's types (cached a day in cache_dir unless NULL), their
 * on-demand and spot prices, gp3's. AWS not answering is recorded in the quote (types_error,
 * on_demand_error...), not an error. */
FerryQuote *ferry_quote_compute (FerryAws *aws, const char *cache_dir, const FerryNeeds *needs,
                                 const FerryQuoteOptions *opts, GCancellable *cancellable,
                                 GError **error);

/* The hourly price that counts for `c` (spot or on-demand); < 0: unknown. */
double ferry_candidate_price (const FerryCandidate *c, gboolean spot);

/* The volume's price per month; < 0: unknown. */
double ferry_quote_volume_month (const FerryQuote *q);

/* The most a launch of `c` costs if it runs until the lifetime cap: the hourly price and the
 * volume's share for max_hours. < 0: unknown. */
double ferry_quote_worst_case (const FerryQuote *q, const FerryCandidate *c);

/* The error for a plan no type fits, naming the region's largest type. Always FALSE. */
gboolean ferry_quote_throw_none_fits (const FerryQuote *q, GError **error);

/* The quote as one JSON document (plan --json). */
json_t *ferry_quote_to_json (const FerryQuote *q, const char *const *targets);

G_END_DECLS
