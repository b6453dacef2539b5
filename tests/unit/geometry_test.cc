#include "service/fanout/geometry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace herald::fanout {
namespace {

const std::vector<GeoPoint> kSquare = {{0, 0}, {0, 1}, {1, 1}, {1, 0}};
// An L: the square [0,2]x[0,2] without its north-east quarter.
const std::vector<GeoPoint> kEll = {{0, 0}, {0, 2}, {1, 2}, {1, 1}, {2, 1}, {2, 0}};

TEST(Geometry, HaversineMatchesKnownDistances) {
  // One degree of latitude on Redis's sphere.
  EXPECT_NEAR(haversine_m({40, -74}, {41, -74}), kEarthRadiusM * M_PI / 180, 0.01);
  // New York to Los Angeles, about 3,936 km.
  EXPECT_NEAR(haversine_m({40.7128, -74.0060}, {34.0522, -118.2437}), 3936e3, 10e3);
  EXPECT_EQ(haversine_m({12.5, 7.25}, {12.5, 7.25}), 0);
}

TEST(Geometry, PointInPolygonInsideAndOutside) {
  EXPECT_TRUE(in_polygon({0.5, 0.5}, kSquare));
  EXPECT_FALSE(in_polygon({1.5, 0.5}, kSquare));
  EXPECT_FALSE(in_polygon({-0.1, 0.5}, kSquare));
  EXPECT_TRUE(in_polygon({0.5, 0.5}, kEll));
  EXPECT_TRUE(in_polygon({1.5, 0.5}, kEll));
  EXPECT_FALSE(in_polygon({1.5, 1.5}, kEll)) << "the missing quarter of the L";
}

TEST(Geometry, PointsOnEdgesAndVerticesAreInside) {
  for (GeoPoint p : {GeoPoint{0, 0.5}, GeoPoint{1, 0.5}, GeoPoint{0.5, 0}, GeoPoint{0.5, 1},
                     GeoPoint{0, 0}, GeoPoint{1, 1}, GeoPoint{1, 0}}) {
    EXPECT_TRUE(in_polygon(p, kSquare)) << p.lat << "," << p.lon;
  }
  // The L's inner corner and its two inner edges.
  EXPECT_TRUE(in_polygon({1, 1}, kEll));
  EXPECT_TRUE(in_polygon({1, 1.5}, kEll));
  EXPECT_TRUE(in_polygon({1.5, 1}, kEll));
  // A diagonal edge.
  const std::vector<GeoPoint> tri = {{0, 0}, {0, 1}, {1, 0}};
  EXPECT_TRUE(in_polygon({0.5, 0.5}, tri));
  EXPECT_FALSE(in_polygon({0.5000001, 0.5000001}, tri));
}

TEST(Geometry, RayThroughAVertexCountsOnce) {
  // A diamond: the ray from a point level with the east vertex passes through it.
  const std::vector<GeoPoint> diamond = {{0, 1}, {1, 2}, {2, 1}, {1, 0}};
  EXPECT_TRUE(in_polygon({1, 1}, diamond));
  EXPECT_FALSE(in_polygon({1, -1}, diamond));
  EXPECT_FALSE(in_polygon({1, 3}, diamond));
}

TEST(Geometry, ClosedRingEqualsOpenRingAndDegenerateIsEmpty) {
  std::vector<GeoPoint> closed = kEll;
  closed.push_back(kEll.front());
  for (GeoPoint p : {GeoPoint{0.5, 0.5}, GeoPoint{1.5, 1.5}, GeoPoint{1.5, 0.5}, GeoPoint{3, 3}}) {
    EXPECT_EQ(in_polygon(p, closed), in_polygon(p, kEll));
  }
  const std::vector<GeoPoint> line = {{0, 0}, {1, 1}};
  EXPECT_FALSE(in_polygon({0.5, 0.5}, line));
}

TEST(Geometry, CircleIncludesItsBoundaryAndBoxHoldsIt) {
  const GeoPoint c{40.75, -73.99};
  EXPECT_TRUE(in_circle(c, c, 100));
  EXPECT_FALSE(in_circle(c, c, 0));
  const Box b = circle_box(c, 1000);
  // North, south, east and west points at the radius are inside the box and the circle.
  const double dlat = 1000 / kEarthRadiusM * 180 / M_PI;
  const double dlon = dlat / std::cos(c.lat * M_PI / 180);
  for (GeoPoint p :
       {GeoPoint{c.lat + dlat * 0.999, c.lon}, GeoPoint{c.lat - dlat * 0.999, c.lon},
        GeoPoint{c.lat, c.lon + dlon * 0.999}, GeoPoint{c.lat, c.lon - dlon * 0.999}}) {
    EXPECT_TRUE(in_circle(p, c, 1000));
    EXPECT_TRUE(p.lat >= b.min_lat && p.lat <= b.max_lat && p.lon >= b.min_lon &&
                p.lon <= b.max_lon);
  }
  EXPECT_FALSE(in_circle({c.lat + dlat * 1.01, c.lon}, c, 1000));
}

TEST(Geometry, BoundingBoxOfPolygon) {
  const Box b = bounding_box(kEll);
  EXPECT_EQ(b.min_lat, 0);
  EXPECT_EQ(b.min_lon, 0);
  EXPECT_EQ(b.max_lat, 2);
  EXPECT_EQ(b.max_lon, 2);
}

TEST(Geometry, EveryPointBelongsToExactlyOneLeaf) {
  const Box area{40.70, -74.02, 40.78, -73.93};
  const Grid grid = make_grid(area, 0.02);
  EXPECT_EQ(grid.rows, 4);
  EXPECT_EQ(grid.cols, 5);
  // Leaves: every top tile, with tile 6 split down to depth 2.
  std::vector<Box> leaves;
  for (int i = 0; i < grid.size(); ++i) {
    if (i != 6) {
      leaves.push_back(grid_tile(grid, i));
      continue;
    }
    for (char a : std::string("0123")) {
      for (char b : std::string("0123")) {
        leaves.push_back(descend(grid_tile(grid, i), std::string{a, b}));
      }
    }
  }
  std::mt19937 rng(7);
  std::vector<GeoPoint> points = {
      {area.min_lat, area.min_lon}, {area.max_lat, area.max_lon}, {area.max_lat, area.min_lon}};
  std::uniform_real_distribution<double> lat(area.min_lat, area.max_lat);
  std::uniform_real_distribution<double> lon(area.min_lon, area.max_lon);
  for (int i = 0; i < 2000; ++i) points.push_back({lat(rng), lon(rng)});
  // Points exactly on inner edges and corners of tiles and quadrants.
  for (const Box& leaf : leaves) {
    points.push_back({leaf.min_lat, leaf.min_lon});
    points.push_back({leaf.max_lat, leaf.max_lon});
    points.push_back({leaf.min_lat, (leaf.min_lon + leaf.max_lon) / 2});
  }
  for (GeoPoint p : points) {
    int owners = 0;
    for (const Box& leaf : leaves) owners += owns(leaf, area, p) ? 1 : 0;
    EXPECT_EQ(owners, 1) << p.lat << "," << p.lon;
  }
}

TEST(Geometry, CoveringQueryContainsItsBox) {
  for (Box b : {Box{40.70, -74.02, 40.72, -74.00}, Box{-0.01, 10, 0.01, 10.02},
                Box{-60.02, 5, -60.0, 5.02}}) {
    const BoxQuery q = covering_query(b);
    for (double lat : {b.min_lat, b.max_lat}) {
      for (double lon : {b.min_lon, b.max_lon}) {
        // Redis's test: latitude distance, then longitude distance along the point's parallel.
        EXPECT_LE(haversine_m({lat, q.center.lon}, {q.center.lat, q.center.lon}), q.height_m / 2);
        EXPECT_LE(haversine_m({lat, lon}, {lat, q.center.lon}), q.width_m / 2);
      }
    }
  }
}

}  // namespace
}  // namespace herald::fanout
