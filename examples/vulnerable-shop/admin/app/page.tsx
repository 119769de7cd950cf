export default function AdminHome() {
  return <h1>Back office</h1>;
}
