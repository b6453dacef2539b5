#pragma once

#include <span>
#include <string_view>

namespace herald::fanout {

// Degrees; lat north, lon east. Areas are treated as planar in degrees (utility-sized areas,
// not crossing the antimeridian or a pole).
struct GeoPoint {
  double lat = 0;
  double lon = 0;
};

struct Box {
  double min_lat = 0;
  double min_lon = 0;
  double max_lat = 0;
  double max_lon = 0;
};

// Redis's own Earth radius, so our circle test agrees with GEOSEARCH BYRADIUS.
inline constexpr double kEarthRadiusM = 6372797.560856;

double haversine_m(GeoPoint a, GeoPoint b);

// Points on an edge or a vertex count as inside: a premise on the drawn boundary is affected.
// Fewer than 3 vertices: nothing is inside. The ring may be open or closed.
bool in_polygon(GeoPoint p, std::span<const GeoPoint> ring);

bool in_circle(GeoPoint p, GeoPoint center, double radius_m);

Box bounding_box(std::span<const GeoPoint> points);
Box circle_box(GeoPoint center, double radius_m);

// A grid over `area` whose tiles are at most `max_deg` on a side; tiles are numbered row-major.
struct Grid {
  Box area;
  int rows = 1;
  int cols = 1;
  int size() const { return rows * cols; }
};
Grid make_grid(const Box& area, double max_deg);
Box grid_tile(const Grid& grid, int index);
// Quadrant '0'..'3' (SW, SE, NW, NE) of a box; `path` applies quadrants in turn.
Box quadrant(const Box& box, char q);
Box descend(const Box& tile, std::string_view path);

// Each point belongs to exactly one leaf of a grid/quadtree walk: boxes are half-open, closed
// only on the edges they share with the whole area, and adjacent boxes share identical edges.
bool owns(const Box& leaf, const Box& area, GeoPoint p);

// GEOSEARCH BYBOX arguments that certainly cover `box`: Redis measures the width along the
// point's parallel, so it is taken at the latitude nearest the equator, plus a margin.
struct BoxQuery {
  GeoPoint center;
  double width_m = 0;
  double height_m = 0;
};
BoxQuery covering_query(const Box& box);

}  // namespace herald::fanout
