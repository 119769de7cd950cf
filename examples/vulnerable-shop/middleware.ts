import { NextResponse, type NextRequest } from "next/server";

// Session refresh for account pages. It never looks at where the visitor is.
// ruleid: LL006
export function middleware(request: NextRequest) {
  const session = request.cookies.get("session");
  if (!session) {
    return NextResponse.redirect(new URL("/login", request.url));
  }
  return NextResponse.next();
}

export const config = {
  matcher: ["/account/:path*"],
};
