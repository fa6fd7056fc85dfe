/* Finding what ferry made (by state, tag and name) and deleting it in reverse dependency order. */
#pragma once

#include "aws.h"
#include "state.h"

G_BEGIN_DECLS

/* One resource found in AWS (or only in the state). */
typedef struct _FerryFound
{
  char *kind;            /* FERRY_KIND_* */
  char *id;              /* instance id, group id, key pair name... what the delete call takes */
  char *aws_name;        /* Name tag, group name, key name, role name (may be NULL) */
  char *owner;           /* the value of its ferry:name tag (NULL when untagged) */
  char *state;           /* running, in-use, available... (may be NULL) */
  GDateTime *created_at; /* may be NULL */
  gint64 size_gb;        /* volumes */
  gboolean delete_on_termination; /* volumes: goes away with its instance */
  char *parent;                   /* the instance a volume is attached to, the VPC of a group */
  gboolean from_state;            /* recorded in the state as created by ferry */
  gboolean adopted;    /* in the state but not created by ferry: forgotten, never deleted */
  char *policy;        /* roles: the inline policy the state names */
  GStrv members;       /* instance profiles: the roles in it */
  gboolean is_default; /* VPCs: the account's default VPC */
  char *detail;        /* instance type, CIDR... for display */
  gboolean live;       /* seen in AWS by discovery */
  gboolean keep;       /* teardown: forgotten from the state, never deleted */
  char *note;          /* teardown: why it is kept */
} FerryFound;

void ferry_found_free (FerryFound *found);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryFound, ferry_found_free)

/* Every resource tagged ferry:name=`name` (any name when NULL) in the region, each kind's discover
 * at once: instances that are not terminated, volumes, security groups, key pairs, VPCs, buckets,
 * the roles and instance profiles named <NAME>-ec2 / <NAME>-profile whose tag matches, and the budget
 * named after the deployment (`state`, may be NULL, says whether ferry made it). `log` gets a line
 * for a lookup that could not be made but does not matter (budgets closed to the credentials).
 * Returns an array of FerryFound, sorted by kind in dependency order then id. */
GPtrArray *ferry_discover (FerryAws *aws, FerryState *state, const char *name, FerryLogFunc log,
                           gpointer log_data, GCancellable *cancellable, GError **error);

/* "3m", "5h", "12d" since `t`; "-" for NULL. */
char *ferry_format_age (GDateTime *t, GDateTime *now);

/* Whether `kind` bills while it exists (instances not stopped, volumes, buckets). */
typedef struct
{
  guint running_instances;
  guint stopped_instances;
  guint volumes;
  gint64 volume_gb;
  guint buckets;
  guint free_items;
} FerryBill;

void ferry_bill_add (FerryBill *bill, const FerryFound *found);
/* One sentence on what bills ("1 running instance bills by the second; ..."), or that nothing does. */
char *ferry_bill_describe (const FerryBill *bill);

typedef struct _FerryTeardown FerryTeardown;

FerryTeardown *ferry_teardown_new (FerryAws *aws, FerryState *state);
void ferry_teardown_free (FerryTeardown *td);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTeardown, ferry_teardown_free)

/* Empty and delete a non-empty bucket instead of refusing it. */
void ferry_teardown_set_force (FerryTeardown *td, gboolean force);
/* Progress lines ("deleted security group sg-... (ferry-ssh)"); called from several threads. */
void ferry_teardown_set_log (FerryTeardown *td, FerryLogFunc log, gpointer log_data);
/* How long to retry a deletion that AWS refuses while a dependency goes away (default 600 s). */
void ferry_teardown_set_timeout (FerryTeardown *td, guint timeout_s);

/* What would be deleted (or only forgotten, for adopted resources): the state's resources merged
 * with what discovery by tag and name finds. Nothing is changed. */
GPtrArray *ferry_teardown_plan (FerryTeardown *td, GCancellable *cancellable, GError **error);

/* The pure half of the plan, for the unit tests: the state's resources merged with what discovery
 * found (steals the members it keeps), each marked keep (with a note) or not, plus the pem if the
 * file exists. Only the state's created resources and what carries ferry:name=`name` are ever
 * deleted; a key pair, role or profile only with the tag seen on it; the default VPC only if the
 * state says ferry created it. */
GPtrArray *ferry_teardown_merge (const char *name, json_t *resources, GPtrArray *found,
                                 const char *pem_path);

/* Deletes the plan in reverse dependency order: the instances are terminated and waited for, then
 * their leftover volumes, security groups and a VPC ferry created; the key pair (and pem), the IAM
 * chain and the bucket go meanwhile. Each deleted resource is forgotten from the state at once, and
 * state.json is removed when nothing is left. A non-empty bucket is refused without force, after
 * everything else is gone. Under the aws dry-run, only the commands are shown. */
gboolean ferry_teardown_execute (FerryTeardown *td, GPtrArray *plan, GCancellable *cancellable,
                                 GError **error);

/* One line for the plan: "terminate instance i-0abc (ferry, running)", "keep vpc vpc-1 (adopted)".
 */
char *ferry_teardown_item_describe (const FerryFound *item);

G_END_DECLS
