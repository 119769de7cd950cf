import { PrismaClient } from "@prisma/client";
import { getServerSession } from "next-auth";

const prisma = new PrismaClient();

// ok: LL015 — the safe twin: a session is required and the conversation must belong to its user
export default async function OrderChatPage({ params }: { params: Promise<{ id: string }> }) {
  const session = await getServerSession();
  if (!session?.user?.id) return <p>Please sign in.</p>;
  const { id } = await params;
  const conversation = await prisma.conversation.findFirst({ where: { id, userId: session.user.id } });
  return <p>{conversation?.summary}</p>;
}
