import type { NextApiRequest, NextApiResponse } from "next";
import * as Sentry from "@sentry/nextjs";
import { askAssistant } from "../../lib/llm";

// The Pages Router chat endpoint that the old mobile app still calls.
export default async function handler(req: NextApiRequest, res: NextApiResponse) {
  const { answer } = await askAssistant(String(req.body.question));
  // ruleid: LL007
  Sentry.addBreadcrumb({ category: "legacy-chat", message: answer });
  res.status(200).json({ answer });
}
