# Boost 1.81 exactly (Debian: libboost-fiber1.81-dev libboost-context1.81-dev libboost1.81-dev).
# The plain libboost-*-dev packages of bookworm are 1.74, whose Boost.Fiber differs; refuse them
# at configure time instead of failing later in odd ways.
find_package(Threads REQUIRED)
find_package(Boost 1.81 CONFIG COMPONENTS fiber context)
if(NOT Boost_FOUND)
  message(FATAL_ERROR
    "fiberbridge needs Boost 1.81 (fiber, context). On Debian 12: "
    "apt-get install libboost-fiber1.81-dev libboost-context1.81-dev libboost1.81-dev")
endif()
if(NOT Boost_VERSION VERSION_EQUAL 1.81.0)
  message(FATAL_ERROR
    "fiberbridge needs Boost 1.81 exactly, found ${Boost_VERSION} at ${Boost_DIR}. On Debian 12 install "
    "libboost-fiber1.81-dev libboost-context1.81-dev libboost1.81-dev (the plain libboost-*-dev are 1.74).")
endif()
