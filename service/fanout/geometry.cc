#include "service/fanout/geometry.h"

#include <algorithm>
#include <cmath>

namespace herald::fanout {
namespace {

constexpr double kPi = 3.14159265358979323846;
// About 0.1 mm: coordinates closer than this to an edge are on it, whatever the rounding.
constexpr double kEdgeEpsDeg = 1e-9;
constexpr int kMaxGridSide = 4096;

double rad(double deg) { return deg * kPi / 180.0; }
double deg(double rad) { return rad * 180.0 / kPi; }

bool on_segment(GeoPoint p, GeoPoint a, GeoPoint b) {
  if (p.lat < std::min(a.lat, b.lat) - kEdgeEpsDeg ||
      p.lat > std::max(a.lat, b.lat) + kEdgeEpsDeg ||
      p.lon < std::min(a.lon, b.lon) - kEdgeEpsDeg ||
      p.lon > std::max(a.lon, b.lon) + kEdgeEpsDeg) {
    return false;
  }
  const double dx = b.lon - a.lon;
  const double dy = b.lat - a.lat;
  const double len = std::hypot(dx, dy);
  if (len == 0) return true;  // a degenerate edge: the bounds check above already matched
  const double cross = dx * (p.lat - a.lat) - dy * (p.lon - a.lon);
  return std::abs(cross) / len <= kEdgeEpsDeg;
}

bool inside(double v, double lo, double hi, double area_hi) {
  return v >= lo && (v < hi || (hi == area_hi && v <= hi));
}

}  // namespace

double haversine_m(GeoPoint a, GeoPoint b) {
  const double dlat = rad(b.lat - a.lat);
  const double dlon = rad(b.lon - a.lon);
  const double s =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(rad(a.lat)) * std::cos(rad(b.lat)) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(s)));
}

bool in_polygon(GeoPoint p, std::span<const GeoPoint> ring) {
  if (ring.size() < 3) return false;
  bool in = false;
  for (size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
    const GeoPoint a = ring[j];
    const GeoPoint b = ring[i];
    if (on_segment(p, a, b)) return true;
    // Half-open in latitude, so a ray through a vertex counts it once.
    if ((a.lat > p.lat) != (b.lat > p.lat)) {
      const double x = a.lon + (p.lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
      if (p.lon < x) in = !in;
    }
  }
  return in;
}

bool in_circle(GeoPoint p, GeoPoint center, double radius_m) {
  return radius_m > 0 && haversine_m(p, center) <= radius_m;
}

Box bounding_box(std::span<const GeoPoint> points) {
  if (points.empty()) return {};
  Box b{points[0].lat, points[0].lon, points[0].lat, points[0].lon};
  for (const GeoPoint& p : points) {
    b.min_lat = std::min(b.min_lat, p.lat);
    b.max_lat = std::max(b.max_lat, p.lat);
    b.min_lon = std::min(b.min_lon, p.lon);
    b.max_lon = std::max(b.max_lon, p.lon);
  }
  return b;
}

Box circle_box(GeoPoint center, double radius_m) {
  const double dlat = deg(radius_m / kEarthRadiusM);
  const double c = std::max(std::cos(rad(center.lat)), 1e-6);
  const double dlon = std::min(180.0, deg(radius_m / (kEarthRadiusM * c)));
  return Box{std::max(-90.0, center.lat - dlat), std::max(-180.0, center.lon - dlon),
             std::min(90.0, center.lat + dlat), std::min(180.0, center.lon + dlon)};
}

Grid make_grid(const Box& area, double max_deg) {
  auto side = [max_deg](double span) {
    const double n = std::ceil(span / max_deg);
    return static_cast<int>(std::clamp(n, 1.0, static_cast<double>(kMaxGridSide)));
  };
  return Grid{area, side(area.max_lat - area.min_lat), side(area.max_lon - area.min_lon)};
}

Box grid_tile(const Grid& g, int index) {
  const int r = index / g.cols;
  const int c = index % g.cols;
  const double lat_step = (g.area.max_lat - g.area.min_lat) / g.rows;
  const double lon_step = (g.area.max_lon - g.area.min_lon) / g.cols;
  // Neighbours compute a shared edge with the same expression, so it is the same double.
  Box b;
  b.min_lat = g.area.min_lat + r * lat_step;
  b.max_lat = r == g.rows - 1 ? g.area.max_lat : g.area.min_lat + (r + 1) * lat_step;
  b.min_lon = g.area.min_lon + c * lon_step;
  b.max_lon = c == g.cols - 1 ? g.area.max_lon : g.area.min_lon + (c + 1) * lon_step;
  return b;
}

Box quadrant(const Box& box, char q) {
  const double mid_lat = (box.min_lat + box.max_lat) / 2;
  const double mid_lon = (box.min_lon + box.max_lon) / 2;
  Box b = box;
  const int i = q - '0';
  (i & 1 ? b.min_lon : b.max_lon) = mid_lon;
  (i & 2 ? b.min_lat : b.max_lat) = mid_lat;
  return b;
}

Box descend(const Box& tile, std::string_view path) {
  Box b = tile;
  for (char q : path) b = quadrant(b, q);
  return b;
}

bool owns(const Box& leaf, const Box& area, GeoPoint p) {
  return inside(p.lat, leaf.min_lat, leaf.max_lat, area.max_lat) &&
         inside(p.lon, leaf.min_lon, leaf.max_lon, area.max_lon);
}

BoxQuery covering_query(const Box& box) {
  const bool spans_equator = box.min_lat <= 0 && box.max_lat >= 0;
  const double nearest = spans_equator ? 0 : std::min(std::abs(box.min_lat), std::abs(box.max_lat));
  BoxQuery q;
  q.center = GeoPoint{(box.min_lat + box.max_lat) / 2, (box.min_lon + box.max_lon) / 2};
  q.height_m = kEarthRadiusM * rad(box.max_lat - box.min_lat) * 1.02 + 2.0;
  q.width_m = kEarthRadiusM * std::cos(rad(nearest)) * rad(box.max_lon - box.min_lon) * 1.02 + 2.0;
  return q;
}

}  // namespace herald::fanout
