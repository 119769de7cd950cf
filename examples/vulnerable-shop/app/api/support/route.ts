import { NextResponse } from "next/server";
import { askAssistant } from "@/lib/llm";

// The safe twin of /api/assistant: pinned to Frankfurt, logs only sizes, generic errors, no model internals in headers.
export const runtime = "edge";
export const preferredRegion = ["fra1"];

export async function POST(req: Request) {
  const requestId = crypto.randomUUID();
  try {
    const { question } = await req.json();
    // ok: LL007 — the length of the question, not the question
    console.log("support question", { requestId, chars: question.length });
    const { answer } = await askAssistant(question);
    const res = NextResponse.json({ answer });
    // ok: LL011 — a request id is not model data
    res.headers.set("x-request-id", requestId);
    res.headers.set("cache-control", "no-store");
    return res;
  } catch (error) {
    // ok: LL012 — the details stay in the server log, the client gets a generic message
    console.error("support failed", requestId, error);
    return NextResponse.json({ error: "The assistant is unavailable.", requestId }, { status: 500 });
  }
}
