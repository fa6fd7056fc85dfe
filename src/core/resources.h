/* What making resources needs: the runner and state every kind's ensure gets (FerryResources), what
 * the user asks for (FerrySpec), the checks done before anything is made, the launch options, the
 * user data and the AMI. Each kind's ensure lives in its src/core/kind-*.c, reached through
 * ferry_kinds() (kinds.h). */
#pragma once

#include "aws.h"
#include "state.h"

G_BEGIN_DECLS

/* The conda and mamba the user data installs next to snakemake, for --use-conda. */
#define FERRY_CONDA_VERSION "24.7.1"
#define FERRY_MAMBA_VERSION "1.5.10"
#define FERRY_DEFAULT_SSH_USER "ec2-user"
#define FERRY_DEFAULT_INSTANCE_TYPE "t3.medium"
#define FERRY_DEFAULT_VOLUME_GB 30
#define FERRY_DEFAULT_MAX_HOURS 12
#define FERRY_AMI_PARAMETER "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

/* What every step needs: the aws runner, the state, and where progress lines go. */
struct _FerryResources
{
  FerryAws *aws;
  FerryState *state;
  gboolean dry_run;
  FerryLogFunc log; /* "created security group sg-1 (ferry-ssh)"; called from several threads */
  gpointer log_data;
  /* Called (from any thread) right after a resource of `kind` is recorded: bootstrap launches as
   * soon as what the instance needs exists, while the rest is still being finished. */
  void (*recorded) (const char *kind, gpointer data);
  gpointer recorded_data;
  gboolean instance_launched; /* set by the instance's ensure: this run launched a new one */
};

/* --- validation (usage errors) ---------------------------------------------------------------- */

/* An IPv4 or IPv6 CIDR; a bare address means one host (/32, /128). The address must have no bits
 * set beyond the prefix. 0.0.0.0/0 and ::/0 are refused unless allow_any. *out_cidr is the
 * normalised text. */
gboolean ferry_cidr_validate (const char *text, gboolean allow_any, char **out_cidr,
                              GError **error);
gboolean ferry_cidr_is_ipv6 (const char *cidr);

/* S3's rules for general purpose bucket names: 3-63 characters of a-z, 0-9, '.', '-', starting and
 * ending with a letter or digit, no "..", not an IP address, no reserved prefix or suffix. */
gboolean ferry_bucket_name_validate (const char *name, GError **error);

/* The caller's public address as a /32, asked of a what-is-my-ip service over plain HTTP
 * ($FERRY_CHECKIP_URL, default http://checkip.amazonaws.com/) with a short timeout. */
char *ferry_detect_public_cidr (guint timeout_ms, GCancellable *cancellable, GError **error);

/* --- what the kinds share ----------------------------------------------------------------------- */

/* The inline policy of deployment `name` for `bucket`, rendered from templates/iam-policy.json: every
 * Resource names the bucket or its objects, or the region's instances with a condition on the tag
 * ferry:name=NAME (and then only to stop, terminate or tag them), or the deployment's SNS topic
 * (only to publish to it), and nothing else. */
json_t *ferry_role_policy_render (const char *name, const char *region, const char *bucket,
                                  GError **error);

/* The AMI: `ami` when given (checked with describe-images), else the AL2023 SSM parameter, else
 * the newest AL2023 image Amazon owns. *out_root_device is the image's root device name. */
gboolean ferry_lookup_ami (FerryResources *res, const char *ami, char **out_ami,
                           char **out_root_device, GCancellable *cancellable, GError **error);

typedef struct
{
  const char *instance_type;
  gint64 volume_gb;
  gint64 max_hours;
  gboolean spot;
  const char *ami;         /* --ami, or resolved; NULL: look it up */
  const char *root_device; /* NULL: not resolved yet (ami is looked up or checked at launch) */
  const char *snakemake_major; /* for the user data; see snakemake_checked */
  gboolean snakemake_checked;  /* FALSE: ask the local snakemake at launch */
  const char *ssh_user;
  guint wait_timeout_s; /* for `running` */
} FerryLaunchOptions;

/* The user data for an instance: templates/user-data.sh with the lifetime cap, ssh user and
 * snakemake major version filled in. */
char *ferry_user_data_render (const char *name, gint64 max_hours, const char *ssh_user,
                              const char *snakemake_major, GError **error);

/* What the user asks for, as each kind's ensure reads it; a kind not asked for is left alone. */
struct _FerrySpec
{
  const char *cidr;     /* security group: SSH's one source (validated) */
  gboolean default_vpc; /* security group: into the account's default VPC without a lookup (EC2
                         * then picks the subnet at launch) */
  gboolean network;     /* the default VPC and subnet, looked up (or made) now */
  const char *bucket;   /* bucket; the role's one bucket */
  gboolean iam;         /* role + instance profile for the bucket */
  const FerryLaunchOptions *launch; /* instance */
  const char *budget_amount;        /* budget (validated USD) */
  const char *budget_email;
  const char *notify_email; /* topic: made, and this address subscribed (validated) */
};

/* The snakemake major version on this machine ("7"), or NULL when it does not run. */
char *ferry_local_snakemake_major (GCancellable *cancellable);

G_END_DECLS
