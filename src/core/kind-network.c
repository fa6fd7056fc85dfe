/* The network: the account's default VPC and one of its default subnets, adopted (never deleted), or
 * a default VPC ferry creates when the account has none (tagged; teardown removes it with its
 * gateway and subnets). Found by tag. */
#include "kind-private.h"

/* --- ensure ------------------------------------------------------------------------------------- */

static json_t *
default_subnets (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--filters", "Name=default-for-az,Values=true", NULL);
  out = ferry_res_call (res, "ec2", "describe-subnets", b, cancellable, error);
  if (out == NULL)
    return NULL;
  if (!json_is_array (json_object_get (out, "Subnets")))
    return (ferry_res_missing_member (error, "describe-subnets", "Subnets"), NULL);
  return json_incref (json_object_get (out, "Subnets"));
}

/* The default subnet to use: the first by availability zone, for a stable choice. */
static json_t *
pick_subnet (json_t *subnets)
{
  json_t *best = NULL, *subnet;
  size_t i;

  json_array_foreach (subnets, i, subnet)
    {
      const char *az = json_string_value (json_object_get (subnet, "AvailabilityZone"));
      if (!json_is_string (json_object_get (subnet, "SubnetId"))
          || !json_is_string (json_object_get (subnet, "VpcId")))
        continue;
      if (best == NULL
          || g_strcmp0 (az, json_string_value (json_object_get (best, "AvailabilityZone"))) < 0)
        best = subnet;
    }
  return best;
}

static gboolean
create_default_vpc (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) tb = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(json_t) tagged = NULL;
  g_autofree char *tag = g_strdup_printf ("Key=%s,Value=%s", FERRY_TAG_KEY, ferry_res_name (res));
  const char *vpc;

  out = ferry_res_call (res, "ec2", "create-default-vpc", b, cancellable, error);
  if (out == NULL)
    return FALSE;
  vpc = ferry_res_id_or_placeholder (res, json_object_get (json_object_get (out, "Vpc"), "VpcId"),
                           "<vpc-id>");
  if (vpc == NULL)
    return ferry_res_missing_member (error, "create-default-vpc", "Vpc.VpcId");
  if (!ferry_res_record (res, FERRY_KIND_VPC, ferry_resource_new (vpc, TRUE), error))
    return FALSE;
  g_strv_builder_add_many (tb, "--resources", vpc, "--tags", tag, NULL);
  tagged = ferry_res_call (res, "ec2", "create-tags", tb, cancellable, error);
  if (tagged == NULL)
    return FALSE;
  ferry_res_log (res, "created a default VPC %s (the account had none; teardown removes it)", vpc);
  return TRUE;
}

/* Only when asked (ferry network): bootstrap lets the group and the launch find the default VPC. */
gboolean
ferry_network_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                      GError **error)
{
  g_autoptr(json_t) subnets = NULL;
  json_t *subnet, *resource;
  const char *vpc;

  if (!spec->network)
    return TRUE;
  if (ferry_state_has_resource (res->state, FERRY_KIND_VPC)
      && ferry_state_has_resource (res->state, FERRY_KIND_SUBNET))
    return TRUE;

  subnets = default_subnets (res, cancellable, error);
  if (subnets == NULL)
    return FALSE;
  if (json_array_size (subnets) == 0)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_autoptr(json_t) vpcs = NULL;

      g_strv_builder_add_many (b, "--filters", "Name=is-default,Values=true", NULL);
      vpcs = ferry_res_call (res, "ec2", "describe-vpcs", b, cancellable, error);
      if (vpcs == NULL)
        return FALSE;
      if (json_array_size (json_object_get (vpcs, "Vpcs")) > 0)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "the default VPC %s has no default subnet: make one with aws ec2 "
                            "create-default-subnet --availability-zone ZONE",
                            json_string_value (json_object_get (
                                json_array_get (json_object_get (vpcs, "Vpcs"), 0), "VpcId")));
      if (!create_default_vpc (res, cancellable, error))
        return FALSE;
      if (res->dry_run)
        return TRUE;
      json_decref (subnets);
      subnets = default_subnets (res, cancellable, error);
      if (subnets == NULL)
        return FALSE;
    }
  subnet = pick_subnet (subnets);
  if (subnet == NULL)
    return ferry_throw (error, FERRY_ERROR_FAILED,
                        "the default VPC has no usable subnet: make one with aws ec2 "
                        "create-default-subnet --availability-zone ZONE");
  vpc = json_string_value (json_object_get (subnet, "VpcId"));
  if (!ferry_state_has_resource (res->state, FERRY_KIND_VPC)
      && !ferry_res_record (res, FERRY_KIND_VPC, ferry_resource_new (vpc, FALSE), error))
    return FALSE;
  resource = ferry_resource_new (json_string_value (json_object_get (subnet, "SubnetId")), FALSE);
  json_object_set (resource, "az", json_object_get (subnet, "AvailabilityZone"));
  if (!ferry_res_record (res, FERRY_KIND_SUBNET, resource, error))
    return FALSE;
  ferry_res_log (res, "using the default VPC %s, subnet %s", vpc,
           json_string_value (json_object_get (subnet, "SubnetId")));
  return TRUE;
}

/* --- discover ----------------------------------------------------------------------------------- */

gboolean
ferry_vpc_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) vpcs = ferry_discovery_describe_tagged (d, "describe-vpcs", "Vpcs", NULL, cancellable, error);
  json_t *vpc;
  size_t i;

  if (vpcs == NULL)
    return FALSE;
  json_array_foreach (vpcs, i, vpc)
    {
      const char *id = json_string_value (json_object_get (vpc, "VpcId"));
      json_t *tags = json_object_get (vpc, "Tags");
      FerryFound *found;

      if (id == NULL || !ferry_discovery_owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = ferry_found_new (FERRY_KIND_VPC, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = g_strdup (ferry_tags_value (tags, "Name"));
      found->state = ferry_json_dup_string (json_object_get (vpc, "State"));
      found->is_default = json_is_true (json_object_get (vpc, "IsDefault"));
      found->detail = ferry_json_dup_string (json_object_get (vpc, "CidrBlock"));
      found->live = TRUE;
      ferry_discovery_add (d, found);
    }
  return TRUE;
}

/* --- delete ------------------------------------------------------------------------------------- */

/* A VPC ferry created: its internet gateways and subnets go first. */
static gboolean
delete_vpc (FerryTeardown *td, FerryFound *item, GCancellable *cancellable, GError **error)
{
  static const char *const dependency[] = { "DependencyViolation", NULL };
  g_autofree char *attached = g_strdup_printf ("Name=attachment.vpc-id,Values=%s", item->id);
  g_autofree char *in_vpc = g_strdup_printf ("Name=vpc-id,Values=%s", item->id);
  const char *igw_args[] = { "--filters", attached, NULL };
  const char *subnet_args[] = { "--filters", in_vpc, NULL };
  const char *vpc_args[] = { "--vpc-id", item->id, NULL };
  g_autoptr(json_t) igws = NULL;
  g_autoptr(json_t) subnets = NULL;
  json_t *igw, *subnet;
  size_t i;

  igws
      = ferry_aws_call (td->aws, "ec2", "describe-internet-gateways", igw_args, cancellable, error);
  if (igws == NULL)
    return FALSE;
  json_array_foreach (json_object_get (igws, "InternetGateways"), i, igw)
    {
      const char *id = json_string_value (json_object_get (igw, "InternetGatewayId"));
      const char *detach[] = { "--internet-gateway-id", id, "--vpc-id", item->id, NULL };
      const char *del[] = { "--internet-gateway-id", id, NULL };

      if (id == NULL)
        continue;
      if (!ferry_td_delete_call (td, "ec2", "detach-internet-gateway", detach, dependency, NULL, cancellable,
                        error)
          || !ferry_td_delete_call (td, "ec2", "delete-internet-gateway", del, dependency, NULL, cancellable,
                           error))
        return FALSE;
    }
  subnets = ferry_aws_call (td->aws, "ec2", "describe-subnets", subnet_args, cancellable, error);
  if (subnets == NULL)
    return FALSE;
  json_array_foreach (json_object_get (subnets, "Subnets"), i, subnet)
    {
      const char *id = json_string_value (json_object_get (subnet, "SubnetId"));
      const char *del[] = { "--subnet-id", id, NULL };

      if (id != NULL
          && !ferry_td_delete_call (td, "ec2", "delete-subnet", del, dependency, NULL, cancellable, error))
        return FALSE;
    }
  return ferry_td_delete_item (td, item, "ec2", "delete-vpc", vpc_args, dependency, cancellable,
                               error);
}

gboolean
ferry_vpc_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable, GError **error)
{
  for (guint i = 0; i < items->len; i++)
    if (!delete_vpc (td, items->pdata[i], cancellable, error))
      return FALSE;
  return TRUE;
}

/* A subnet the state says ferry made (a default VPC's come and go with it). */
gboolean
ferry_subnet_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                     GError **error)
{
  static const char *const dependency[] = { "DependencyViolation", NULL };

  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      const char *args[] = { "--subnet-id", item->id, NULL };

      if (!ferry_td_delete_item (td, item, "ec2", "delete-subnet", args, dependency, cancellable,
                                 error))
        return FALSE;
    }
  return TRUE;
}
