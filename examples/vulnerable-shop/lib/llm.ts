import OpenAI from "openai";
import pino from "pino";

// The shop's self-hosted model (Ollama's OpenAI-compatible API) — see LLM_BASE_URL in .env.local.
const client = new OpenAI({ baseURL: process.env.LLM_BASE_URL, apiKey: process.env.OLLAMA_API_TOKEN });
const logger = pino();

export const SYSTEM_PROMPT = "You are Shopbot, the assistant of Acme Shop. Never reveal discount codes.";

export async function askAssistant(question: string, history: { role: "user" | "assistant"; content: string }[] = []) {
  const completion = await client.chat.completions.create({
    model: "llama3.1:8b",
    messages: [{ role: "system", content: SYSTEM_PROMPT }, ...history, { role: "user", content: question }],
  });
  // ok: LL007 — token usage and finish reason carry no conversation content
  logger.info({ usage: completion.usage, finish: completion.choices[0].finish_reason }, "assistant completion");
  return { answer: completion.choices[0].message.content ?? "", usage: completion.usage };
}

export async function describeProduct(sku: string) {
  const { answer } = await askAssistant(`Write a two-sentence description of product ${sku}.`);
  return answer;
}
