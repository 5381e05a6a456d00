#pragma once
#include <vector>

namespace geometry {
struct Point {
    double x, y;
};

/// The hot method lives in libshapes.so.
class Polygon {
public:
    explicit Polygon(std::vector<Point> points);
    double area(int repetitions) const;

private:
    std::vector<Point> points_;
};
} // namespace geometry
