"use server";
import pino from "pino";

const logger = pino();

export async function placeOrder(form: FormData) {
  const orderId = crypto.randomUUID();
  const cardNumber = String(form.get("cardNumber"));
  const email = String(form.get("email"));
  // ruleid: LL008
  logger.info({ orderId, email, cardNumber }, "placing order");
  // ok: LL008 — ids and counts only
  logger.info({ orderId, items: form.getAll("sku").length }, "order placed");
  return { orderId };
}
