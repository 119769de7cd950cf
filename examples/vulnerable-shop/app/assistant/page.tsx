"use client";
import { useState } from "react";
import DOMPurify from "isomorphic-dompurify";

export default function AssistantPage() {
  const [answer, setAnswer] = useState("");
  const [faq, setFaq] = useState("");

  async function ask(question: string) {
    const res = await fetch("/api/assistant", { method: "POST", body: JSON.stringify({ question }) });
    const data = await res.json();
    setAnswer(data.answer);
    const faqRes = await fetch("/api/support", { method: "POST", body: JSON.stringify({ question: "faq" }) });
    setFaq((await faqRes.json()).answer);
  }

  return (
    <main>
      <button onClick={() => ask("Where is my order?")}>Ask Shopbot</button>
      {/* ruleid: LL010 */}
      <div className="answer" dangerouslySetInnerHTML={{ __html: answer }} />
      {/* ok: LL010 — sanitized before it is rendered as HTML */}
      <div className="faq" dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(faq) }} />
      {/* ok: LL004 — NEXT_PUBLIC_ variables are meant for the browser */}
      <small>Support hours: {process.env.NEXT_PUBLIC_SUPPORT_HOURS}</small>
      {/* ruleid: LL004 */}
      <small hidden>{process.env.OPENAI_API_KEY}</small>
    </main>
  );
}
