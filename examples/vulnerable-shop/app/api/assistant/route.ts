import { NextResponse } from "next/server";
import { askAssistant } from "@/lib/llm";

// ruleid: LL013
export const runtime = "edge";

export async function POST(req: Request) {
  try {
    const { question, history } = await req.json();
    // ruleid: LL007
    console.log("assistant question", question);
    const { answer, usage } = await askAssistant(question, history);
    const res = NextResponse.json({ answer });
    // ruleid: LL011
    res.headers.set("x-llm-usage", JSON.stringify(usage));
    return res;
  } catch (error: any) {
    // ruleid: LL012
    return NextResponse.json({ error: error.message, stack: error.stack }, { status: 500 });
  }
}
