import { unstable_cache } from "next/cache";
import { describeProduct } from "@/lib/llm";

export const preferredRegion = "fra1";

// ruleid: LL009
const cachedDescription = unstable_cache(async (sku: string) => describeProduct(sku), ["product-description"]);

export async function GET(req: Request) {
  const sku = new URL(req.url).searchParams.get("sku") ?? "";
  const description = await cachedDescription(sku);
  return new Response(JSON.stringify({ sku, description }), {
    headers: {
      "content-type": "application/json",
      // ruleid: LL014
      "cache-control": "public, s-maxage=86400",
    },
  });
}
