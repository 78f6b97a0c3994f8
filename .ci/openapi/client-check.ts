// Compiles (tsc --noEmit) only if the client types openapi-typescript
// generated from the served document describe the API: a search body, a
// notification's status and an event payload whose member is typed by a
// former $defs schema.
import type { components, paths } from "./generated/herald";

type SearchBody = NonNullable<paths["/webhooks:search"]["post"]["requestBody"]>["content"]["application/json"];
type Notification = components["schemas"]["Notification"];
type CardTransaction = components["schemas"]["event.TRANSACTION"]["card_transaction"];

const search: SearchBody = { status: "EXPIRED", include_payload: true, limit: 10 };
const status: Notification["status"] = "DELIVERED";
const transaction: Pick<CardTransaction, "transaction_type"> = { transaction_type: "PURCHASE" };
const event: components["schemas"]["event.TRANSACTION"]["event"] = "TRANSACTION";

export const checks = [search, status, transaction, event];
