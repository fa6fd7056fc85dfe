/* The AWS Budget bootstrap --budget makes as a safety net: a monthly cost budget named <NAME> with an
 * alert at 80 % of actual spend, recorded in the state as kind "budget", listed by ls, deleted by
 * teardown. Budgets carry no ferry:name tag: ferry deletes only the one its state records. */
#pragma once

#include "aws.h"
#include "state.h"

G_BEGIN_DECLS

/* The alert: actual spend above this share of the amount. */
#define FERRY_BUDGET_ALERT_PERCENT 80

/* A dollar amount: digits with at most two decimals, above zero, at most a million. *out_amount is
 * the normalised text ("50", "12.5"). A usage error otherwise. */
gboolean ferry_budget_amount_validate (const char *text, char **out_amount, GError **error);
/* An e-mail address for the alert (one @, a dot in the domain, no spaces). A usage error otherwise. */
gboolean ferry_budget_email_validate (const char *text, GError **error);

/* The account id of the credentials in use (sts get-caller-identity). */
char *ferry_budget_account (FerryAws *aws, GCancellable *cancellable, GError **error);

/* Creates budget `name` for `amount` USD a month, with the alert sent to `email` (no alert without
 * one), and records it in the state at once. A budget the state already records is left as it is;
 * one of that name that the state does not record is an error (ferry did not make it). */
gboolean ferry_budget_ensure (FerryAws *aws, FerryState *state, const char *name,
                              const char *amount, const char *email, gboolean *out_created,
                              GCancellable *cancellable, GError **error);

/* Budget `name` as AWS describes it ("Budget"), or NULL without error when there is none. */
json_t *ferry_budget_describe (FerryAws *aws, const char *account, const char *name,
                               GCancellable *cancellable, GError **error);

/* Deletes the budget the state records and forgets it (one already gone is only forgotten).
 * Nothing recorded: nothing to do. *out_deleted tells whether there was one. */
gboolean ferry_budget_delete (FerryAws *aws, FerryState *state, gboolean *out_deleted,
                              GCancellable *cancellable, GError **error);

G_END_DECLS
