/* The resources bootstrap makes, one kind at a time: each is found (state id first, then name and
 * tag), created tagged when absent, and recorded in the state the moment its create call returns.
 * Deletion lives in teardown.[ch]. */
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
typedef struct
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
} FerryResources;

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

/* --- the kinds ------------------------------------------------------------------------------------ */

/* key pair <NAME>: an ed25519 key made locally by ssh-keygen (the pem, 0400, in the state dir), its
 * public half imported and tagged. A ferry-tagged key pair whose pem is gone is replaced; an untagged
 * one of the same name is an error. */
gboolean ferry_ensure_key_pair (FerryResources *res, GCancellable *cancellable, GError **error);

/* The default VPC and one of its default subnets (adopted), or a default VPC created when the
 * account has none (then ferry created it, tags it, and teardown removes it). */
gboolean ferry_ensure_network (FerryResources *res, GCancellable *cancellable, GError **error);

/* Security group <NAME>-ssh in the state's VPC with exactly one ingress rule: 22/tcp from cidr.
 * With default_vpc and no VPC in the state yet, the group goes into the account's default VPC
 * without looking it up (one aws call fewer); when the account has none, ferry_ensure_network runs
 * first. */
gboolean ferry_ensure_firewall (FerryResources *res, const char *cidr, gboolean default_vpc,
                                GCancellable *cancellable, GError **error);

/* Bucket `bucket`: created (or adopted when it is already ours), tagged, public access blocked. */
gboolean ferry_ensure_bucket (FerryResources *res, const char *bucket, GCancellable *cancellable,
                              GError **error);

/* Role <NAME>-ec2 (trust policy from templates/iam-trust.json), its inline policy <NAME>-s3 on the
 * one bucket, and instance profile <NAME>-profile holding the role. */
gboolean ferry_ensure_role (FerryResources *res, const char *bucket, GCancellable *cancellable,
                            GError **error);

/* The inline policy for `bucket`, rendered from templates/iam-policy.json: every Resource names the
 * bucket or its objects and nothing else. */
json_t *ferry_role_policy_render (const char *bucket, GError **error);

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

/* The state's instance when it still lives (a stopped one is started), else run-instances with the
 * key pair, security group, subnet (when the state has none: EC2 picks a default subnet, and the VPC
 * and subnet are recorded from the answer), profile, volume, tags, client token and user data, retrying
 * while a new instance profile is not yet usable; then waits for `running` and records the address.
 * A launch that was cut short (its client token is in the state) is found by tag, not repeated.
 * *out_created tells whether a new instance was launched. */
gboolean ferry_ensure_instance (FerryResources *res, const FerryLaunchOptions *opts,
                                gboolean *out_created, GCancellable *cancellable, GError **error);

/* The snakemake major version on this machine ("7"), or NULL when it does not run. */
char *ferry_local_snakemake_major (GCancellable *cancellable);

G_END_DECLS
