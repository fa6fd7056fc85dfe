/* The safety-net budget: validated before any call, created with aws budgets, recorded at once;
 * found by its name (budgets carry no tag), deleted last (until then it still watches). */
#include "budget.h"
#include "kind-private.h"

gboolean
ferry_budget_amount_validate (const char *text, char **out_amount, GError **error)
{
  g_autofree char *copy = NULL;
  double v;
  char *end = NULL;

  if (text == NULL || !g_regex_match_simple ("^[0-9]{1,7}(\\.[0-9]{1,2})?$", text, 0, 0))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid --budget \"%s\": give US dollars a month, such as 50 or 12.50",
                        text ? text : "");
  v = g_ascii_strtod (text, &end);
  if (v <= 0 || v > 1e6)
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid --budget \"%s\": give an amount above 0 and at most 1000000", text);
  /* AWS keeps the amount as text: no leading zeros, no trailing decimal zeros. */
  copy = g_strdup_printf ("%.2f", v);
  while (strchr (copy, '.') != NULL && (g_str_has_suffix (copy, "0") || g_str_has_suffix (copy, ".")))
    copy[strlen (copy) - 1] = '\0';
  if (out_amount)
    *out_amount = g_steal_pointer (&copy);
  return TRUE;
}

gboolean
ferry_budget_email_validate (const char *text, GError **error)
{
  return ferry_email_validate ("--budget-email", text, error);
}

char *
ferry_budget_account (FerryAws *aws, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) root = ferry_aws_call (aws, "sts", "get-caller-identity", NULL, cancellable, error);
  const char *account = NULL;

  if (root == NULL
      || !ferry_json_unpack (root, "aws sts get-caller-identity", error, "{s:s}", "Account", &account))
    return NULL;
  return g_strdup (account);
}

json_t *
ferry_budget_describe (FerryAws *aws, const char *account, const char *name,
                       GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--account-id", account, "--budget-name", name, NULL };
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) root = ferry_aws_call (aws, "budgets", "describe-budget", args, cancellable,
                                           &local_error);
  json_t *budget;

  if (root == NULL)
    {
      if (ferry_aws_error_has_code (local_error, "NotFoundException"))
        return NULL;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  budget = json_object_get (root, "Budget");
  if (!json_is_object (budget))
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                         "unexpected output from aws budgets describe-budget: no Budget"),
            NULL);
  return json_incref (budget);
}

gboolean
ferry_budget_ensure (FerryAws *aws, FerryState *state, const char *name, const char *amount,
                     const char *email, gboolean *out_created, GCancellable *cancellable,
                     GError **error)
{
  g_autofree char *account = NULL;
  g_autofree char *budget_text = NULL;
  g_autofree char *notify_text = NULL;
  g_autoptr(json_t) budget = NULL;
  g_autoptr(json_t) created = NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) args = NULL;

  if (out_created)
    *out_created = FALSE;
  if (ferry_state_has_resource (state, FERRY_KIND_BUDGET))
    return TRUE;
  account = ferry_budget_account (aws, cancellable, error);
  if (account == NULL)
    return FALSE;
  budget = json_pack ("{s:s, s:{s:s, s:s}, s:s, s:s}", "BudgetName", name, "BudgetLimit", "Amount",
                      amount, "Unit", "USD", "TimeUnit", "MONTHLY", "BudgetType", "COST");
  budget_text = json_dumps (budget, JSON_COMPACT);
  g_strv_builder_add_many (b, "--account-id", account, "--budget", budget_text, NULL);
  if (email != NULL)
    {
      g_autoptr(json_t) notify = json_pack (
          "[{s:{s:s, s:s, s:i, s:s}, s:[{s:s, s:s}]}]", "Notification", "NotificationType",
          "ACTUAL", "ComparisonOperator", "GREATER_THAN", "Threshold", FERRY_BUDGET_ALERT_PERCENT,
          "ThresholdType", "PERCENTAGE", "Subscribers", "SubscriptionType", "EMAIL", "Address",
          email);
      notify_text = json_dumps (notify, JSON_COMPACT);
      g_strv_builder_add_many (b, "--notifications-with-subscribers", notify_text, NULL);
    }
  args = g_strv_builder_end (b);
  created = ferry_aws_call (aws, "budgets", "create-budget", (const char *const *) args, cancellable,
                            &local_error);
  if (created == NULL)
    {
      if (ferry_aws_error_has_code (local_error, "DuplicateRecordException"))
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "a budget named %s already exists in account %s, and ferry did not make "
                            "it: delete it, or use another --name",
                            name, account);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "creating budget %s: ",
                                  name);
      return FALSE;
    }
  if (out_created)
    *out_created = TRUE;
  return ferry_state_record (state, FERRY_KIND_BUDGET,
                             json_pack ("{s:s, s:s, s:s, s:s?, s:i, s:b}", "id", name, "account",
                                        account, "amount", amount, "email", email, "alert_percent",
                                        FERRY_BUDGET_ALERT_PERCENT, "created", 1),
                             error);
}

gboolean
ferry_budget_delete (FerryAws *aws, FerryState *state, gboolean *out_deleted,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) rec = ferry_state_dup_resource (state, FERRY_KIND_BUDGET);
  const char *name = json_string_value (json_object_get (rec, "id"));
  const char *account = json_string_value (json_object_get (rec, "account"));
  g_autofree char *asked = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) root = NULL;

  if (out_deleted)
    *out_deleted = FALSE;
  if (name == NULL || !json_is_true (json_object_get (rec, "created")))
    return TRUE;
  if (account == NULL)
    {
      asked = ferry_budget_account (aws, cancellable, error);
      if (asked == NULL)
        return FALSE;
      account = asked;
    }
  {
    const char *args[] = { "--account-id", account, "--budget-name", name, NULL };
    root = ferry_aws_call (aws, "budgets", "delete-budget", args, cancellable, &local_error);
  }
  if (root == NULL && !ferry_aws_error_has_code (local_error, "NotFoundException"))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "deleting budget %s: ",
                                  name);
      return FALSE;
    }
  if (out_deleted)
    *out_deleted = TRUE;
  if (aws->dry_run)
    return TRUE;
  return ferry_state_forget (state, FERRY_KIND_BUDGET, error);
}

/* --- the kind's operations ---------------------------------------------------------------------- */

gboolean
ferry_budget_kind_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                          GError **error)
{
  if (spec->budget_amount == NULL)
    return TRUE;
  return ferry_budget_ensure (res->aws, res->state, ferry_res_name (res), spec->budget_amount,
                              spec->budget_email, NULL, cancellable, error);
}

/* The deployment's budget: ls shows one of its name even when the state does not record it (then
 * not as ferry's); teardown looks only for the one its state records. Budgets may be closed to the
 * credentials: that is a line, not a failure (teardown still deletes the recorded one, last). */
gboolean
ferry_budget_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  const char *kept = d->state != NULL ? ferry_state_get_name (d->state) : NULL;
  const char *name = d->name != NULL ? d->name : kept;
  g_autoptr(json_t) rec = NULL;
  g_autofree char *account = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) budget = NULL;
  FerryFound *found;
  json_t *limit;

  if (name == NULL)
    return TRUE;
  if (g_strcmp0 (kept, name) == 0)
    rec = ferry_state_dup_resource (d->state, FERRY_KIND_BUDGET);
  if (rec == NULL && d->for_teardown)
    return TRUE;
  account = g_strdup (json_string_value (json_object_get (rec, "account")));
  if (account == NULL)
    account = ferry_budget_account (d->aws, cancellable, &local_error);
  if (account != NULL)
    budget = ferry_budget_describe (d->aws, account, name, cancellable, &local_error);
  if (local_error != NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "budget %s: ", name);
          return FALSE;
        }
      if (d->log != NULL)
        {
          g_autofree char *line = g_strdup_printf ("budget %s: not looked up (%s)", name,
                                                   local_error->message);
          d->log (line, d->log_data);
        }
      return TRUE;
    }
  if (budget == NULL)
    return TRUE;
  limit = json_object_get (budget, "BudgetLimit");
  found = ferry_found_new (FERRY_KIND_BUDGET, name);
  found->aws_name = g_strdup (name);
  found->owner = rec != NULL ? g_strdup (name) : NULL;
  found->state = g_strdup_printf (
      "$%s/%s",
      json_is_string (json_object_get (limit, "Amount"))
          ? json_string_value (json_object_get (limit, "Amount"))
          : "?",
      g_strcmp0 (json_string_value (json_object_get (budget, "TimeUnit")), "MONTHLY") == 0
          ? "month"
          : "period");
  found->live = TRUE;
  ferry_discovery_add (d, found);
  return TRUE;
}

gboolean
ferry_budget_kind_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                          GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      gboolean deleted = FALSE;
      if (!ferry_budget_delete (td->aws, td->state, &deleted, cancellable, error))
        return FALSE;
      if (deleted)
        ferry_td_log_done (td, items->pdata[i], "deleted", FALSE);
    }
  return TRUE;
}
