import { PrismaClient } from "@prisma/client";

const prisma = new PrismaClient();

// Any visitor who guesses an id reads someone else's conversation with the assistant.
export default async function ConversationPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  // ruleid: LL015
  const conversation = await prisma.conversation.findUnique({ where: { id }, include: { messages: true } });
  return (
    <ol>
      {conversation?.messages.map((m) => (
        <li key={m.id}>{m.content}</li>
      ))}
    </ol>
  );
}
