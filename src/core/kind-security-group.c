/* Security group <NAME>-ssh with exactly one ingress rule, 22/tcp from one address: created tagged
 * (or adopted when an interrupted run made it), its rules converged to that one; found by tag;
 * deleted once its instance is gone. */
#include "kind-private.h"

/* --- ensure ------------------------------------------------------------------------------------- */

static char *
ssh_permission (FerryResources *res, const char *cidr)
{
  g_autofree char *desc = g_strconcat ("ferry ", ferry_res_name (res), ": ssh", NULL);
  g_autoptr(json_t) perm = NULL;

  if (ferry_cidr_is_ipv6 (cidr))
    perm = json_pack ("[{s:s, s:i, s:i, s:[{s:s, s:s}]}]", "IpProtocol", "tcp", "FromPort", 22,
                      "ToPort", 22, "Ipv6Ranges", "CidrIpv6", cidr, "Description", desc);
  else
    perm = json_pack ("[{s:s, s:i, s:i, s:[{s:s, s:s}]}]", "IpProtocol", "tcp", "FromPort", 22,
                      "ToPort", 22, "IpRanges", "CidrIp", cidr, "Description", desc);
  return json_dumps (perm, JSON_COMPACT);
}

static gboolean
change_ingress (FerryResources *res, const char *operation, const char *group,
                const char *permissions, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--group-id", group, "--ip-permissions", permissions, NULL);
  out = ferry_res_call (res, "ec2", operation, b, cancellable, error);
  return out != NULL;
}

/* Makes `perms` (the group's IpPermissions as AWS lists them) exactly the one rule. */
static gboolean
converge_rules (FerryResources *res, const char *group, json_t *perms, const char *cidr,
                GCancellable *cancellable, GError **error)
{
  gboolean have = FALSE;
  json_t *perm;
  size_t i;

  json_array_foreach (perms, i, perm)
    {
      json_t *v4 = json_object_get (perm, "IpRanges");
      json_t *v6 = json_object_get (perm, "Ipv6Ranges");
      gboolean is_ours
          = g_strcmp0 (json_string_value (json_object_get (perm, "IpProtocol")), "tcp") == 0
            && json_integer_value (json_object_get (perm, "FromPort")) == 22
            && json_integer_value (json_object_get (perm, "ToPort")) == 22
            && json_array_size (v4) + json_array_size (v6) == 1
            && json_array_size (json_object_get (perm, "UserIdGroupPairs")) == 0
            && json_array_size (json_object_get (perm, "PrefixListIds")) == 0
            && g_strcmp0 (cidr, json_string_value (json_object_get (
                                    json_array_get (json_array_size (v4) ? v4 : v6, 0),
                                    json_array_size (v4) ? "CidrIp" : "CidrIpv6")))
                   == 0;
      if (is_ours && !have)
        have = TRUE;
      else
        {
          g_autoptr(json_t) one = json_pack ("[O]", perm);
          g_autofree char *text = json_dumps (one, JSON_COMPACT);
          if (!change_ingress (res, "revoke-security-group-ingress", group, text, cancellable,
                               error))
            return FALSE;
        }
    }
  if (!have)
    {
      g_autofree char *text = ssh_permission (res, cidr);
      if (!change_ingress (res, "authorize-security-group-ingress", group, text, cancellable,
                           error))
        return FALSE;
    }
  return ferry_res_update (res, FERRY_KIND_SECURITY_GROUP, "cidr", json_string (cidr), error);
}

static json_t *
describe_group (FerryResources *res, const char *id, const char *vpc, const char *group_name,
                GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autofree char *f_name = NULL, *f_vpc = NULL;
  json_t *group;

  if (id != NULL)
    g_strv_builder_add_many (b, "--group-ids", id, NULL);
  else
    {
      f_name = g_strconcat ("Name=group-name,Values=", group_name, NULL);
      g_strv_builder_add_many (b, "--filters", f_name, NULL);
      if (vpc != NULL)
        {
          f_vpc = g_strconcat ("Name=vpc-id,Values=", vpc, NULL);
          g_strv_builder_add (b, f_vpc);
        }
    }
  out = ferry_res_call (res, "ec2", "describe-security-groups", b, cancellable, error);
  if (out == NULL)
    return NULL;
  group = json_array_get (json_object_get (out, "SecurityGroups"), 0);
  if (group == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no security group %s",
                         id ? id : group_name),
            NULL);
  return json_incref (group);
}

/* With spec->default_vpc and no VPC in the state yet, the group goes into the account's default
 * VPC without looking it up (one aws call fewer); when the account has none, the network's ensure
 * makes one first. */
gboolean
ferry_security_group_ensure (FerryResources *res, const FerrySpec *spec,
                             GCancellable *cancellable, GError **error)
{
  const char *cidr = spec->cidr;
  gboolean default_vpc = spec->default_vpc;
  g_autofree char *vpc = ferry_state_dup_resource_string (res->state, FERRY_KIND_VPC, "id");
  g_autofree char *known = ferry_state_dup_resource_string (res->state,
                                                            FERRY_KIND_SECURITY_GROUP, "id");
  g_autofree char *known_cidr = ferry_state_dup_resource_string (
      res->state, FERRY_KIND_SECURITY_GROUP, "cidr");
  g_autofree char *group_name = g_strconcat (ferry_res_name (res), "-ssh", NULL);
  g_autofree char *desc = g_strconcat ("ferry ", ferry_res_name (res), ": ssh from one address", NULL);
  g_autofree char *tags = ferry_res_tag_specifications (res, "security-group", FALSE);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(json_t) group = NULL;
  g_autoptr(GError) local_error = NULL;
  json_t *resource;
  const char *id;

  if (cidr == NULL)
    return TRUE;
  if (vpc == NULL && !default_vpc && res->dry_run)
    vpc = g_strdup ("<vpc-id>");
  if (vpc == NULL && !default_vpc)
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "no VPC in %s yet; run ferry network first",
                        ferry_state_get_dir (res->state));

  if (known != NULL)
    {
      if (g_strcmp0 (known_cidr, cidr) == 0)
        return TRUE;
      group = describe_group (res, known, NULL, NULL, cancellable, error);
      if (group == NULL)
        return FALSE;
      if (!converge_rules (res, known, json_object_get (group, "IpPermissions"), cidr,
                           cancellable, error))
        return FALSE;
      ferry_res_log (res, "security group %s now allows SSH from %s only", known, cidr);
      return TRUE;
    }

  g_strv_builder_add_many (b, "--group-name", group_name, "--description", desc,
                           "--tag-specifications", tags, NULL);
  if (vpc != NULL)
    g_strv_builder_add_many (b, "--vpc-id", vpc, NULL);
  out = ferry_res_call (res, "ec2", "create-security-group", b, cancellable, &local_error);
  if (out == NULL && vpc == NULL
      && (ferry_aws_error_has_code (local_error, "VPCIdNotSpecified")
          || ferry_aws_error_has_code (local_error, "InvalidVpcID.NotFound")))
    {
      /* No default VPC: make one, then the group goes there. */
      FerrySpec in_new_vpc = *spec;
      in_new_vpc.network = TRUE;
      in_new_vpc.default_vpc = FALSE;
      return ferry_network_ensure (res, &in_new_vpc, cancellable, error)
             && ferry_security_group_ensure (res, &in_new_vpc, cancellable, error);
    }
  if (out == NULL && ferry_aws_error_has_code (local_error, "InvalidGroup.Duplicate"))
    {
      group = describe_group (res, NULL, vpc, group_name, cancellable, error);
      if (group == NULL)
        return FALSE;
      if (!ferry_res_tags_are_ours (res, json_object_get (group, "Tags")))
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "a security group named %s exists in %s and ferry did not create it "
                            "(no %s=%s tag): delete it or use another --name",
                            group_name, vpc ? vpc : "the default VPC", FERRY_TAG_KEY,
                            ferry_res_name (res));
      id = json_string_value (json_object_get (group, "GroupId"));
      resource = ferry_resource_new (id, TRUE);
      json_object_set_new (resource, "name", json_string (group_name));
      json_object_set_new (resource, "cidr", json_null ());
      if (!ferry_res_record (res, FERRY_KIND_SECURITY_GROUP, resource, error))
        return FALSE;
      return converge_rules (res, id, json_object_get (group, "IpPermissions"), cidr, cancellable,
                             error);
    }
  if (out == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  id = ferry_res_id_or_placeholder (res, json_object_get (out, "GroupId"), "<security-group-id>");
  if (id == NULL)
    return ferry_res_missing_member (error, "create-security-group", "GroupId");
  resource = ferry_resource_new (id, TRUE);
  json_object_set_new (resource, "name", json_string (group_name));
  json_object_set_new (resource, "cidr", json_null ());
  if (!ferry_res_record (res, FERRY_KIND_SECURITY_GROUP, resource, error))
    return FALSE;
  {
    g_autoptr(json_t) none = json_array ();
    if (!converge_rules (res, id, none, cidr, cancellable, error))
      return FALSE;
  }
  ferry_res_log (res, "created security group %s (%s): SSH from %s only", id, group_name, cidr);
  return TRUE;
}

/* --- discover ----------------------------------------------------------------------------------- */

gboolean
ferry_security_group_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) groups
      = ferry_discovery_describe_tagged (d, "describe-security-groups", "SecurityGroups", NULL, cancellable, error);
  json_t *group;
  size_t i;

  if (groups == NULL)
    return FALSE;
  json_array_foreach (groups, i, group)
    {
      const char *id = json_string_value (json_object_get (group, "GroupId"));
      json_t *tags = json_object_get (group, "Tags");
      FerryFound *found;

      if (id == NULL || !ferry_discovery_owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = ferry_found_new (FERRY_KIND_SECURITY_GROUP, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = ferry_json_dup_string (json_object_get (group, "GroupName"));
      found->parent = ferry_json_dup_string (json_object_get (group, "VpcId"));
      found->detail = g_strdup (found->parent);
      found->live = TRUE;
      ferry_discovery_add (d, found);
    }
  return TRUE;
}

/* --- delete ------------------------------------------------------------------------------------- */

gboolean
ferry_security_group_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                             GError **error)
{
  static const char *const group_busy[] = { "DependencyViolation", "InvalidGroup.InUse", NULL };

  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      const char *args[] = { "--group-id", item->id, NULL };

      if (!ferry_td_delete_item (td, item, "ec2", "delete-security-group", args, group_busy,
                                 cancellable, error))
        return FALSE;
    }
  return TRUE;
}
