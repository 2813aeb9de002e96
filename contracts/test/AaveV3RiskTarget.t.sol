// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {AaveV3RiskTarget as T} from "../aave/AaveV3RiskTarget.sol";
import {PriceFeedSource} from "../aave/PriceFeedSource.sol";
import {AaveReserveConfigurationMap, IAaveV3AddressesProvider} from "../aave/interfaces/IAaveV3.sol";
import {RiskParameterGovernor} from "../RiskParameterGovernor.sol";
import {PriceFeed} from "../market/PriceFeed.sol";
import {IRiskTarget} from "../interfaces/IRiskTarget.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {RiskParams, ParamBounds} from "../interfaces/RiskTypes.sol";

// Test doubles of the four Aave contracts the target talks to: storage behind the minimal interfaces, no Aave logic.
// The target against real Aave v3 (the npm artifacts) is tested from Python: tests/test_aave_v3.py.

contract FakeAcl {
    mapping(address => bool) public isRiskAdmin;
    mapping(address => bool) public isPoolAdmin;

    function setRiskAdmin(address who, bool granted) external {
        isRiskAdmin[who] = granted;
    }

    function setPoolAdmin(address who, bool granted) external {
        isPoolAdmin[who] = granted;
    }
}

contract FakePool {
    mapping(address => uint256) public data;

    function getConfiguration(address asset) external view returns (AaveReserveConfigurationMap memory) {
        return AaveReserveConfigurationMap(data[asset]);
    }

    function setData(address asset, uint256 word) external {
        data[asset] = word;
    }
}

/// @dev Writes the three 16-bit fields into the pool's word, as Aave's configurator does; `ignore` makes it a
///      configurator that accepts the call and stores nothing (to test that the target checks what landed).
contract FakeConfigurator {
    FakePool internal immutable _pool;
    bool public ignore;
    uint256 public calls;

    constructor(FakePool pool_) {
        _pool = pool_;
    }

    function setIgnore(bool value) external {
        ignore = value;
    }

    function configureReserveAsCollateral(address asset, uint256 ltv, uint256 lt, uint256 bonus) external {
        ++calls;
        if (ignore) return;
        uint256 word = _pool.data(asset) & ~uint256(0xFFFFFFFFFFFF);
        _pool.setData(asset, word | ltv | (lt << 16) | (bonus << 32));
    }
}

contract FakeProvider {
    address public getPool;
    address public getPoolConfigurator;
    address public getACLManager;
    address public getPriceOracle;

    constructor(address pool_, address configurator_, address acl_) {
        getPool = pool_;
        getPoolConfigurator = configurator_;
        getACLManager = acl_;
    }
}

contract AaveV3RiskTargetTest is Test {
    address internal constant OWNER = address(0xD00D);
    address internal constant KEEPER = address(0xBEEF);
    address internal constant GUARDIAN = address(0x6A4D);
    address internal constant WETH = address(0xE7);
    address internal constant OTHER = address(0x07);
    uint256 internal constant ACTIVE = uint256(1) << 56;
    uint256 internal constant FROZEN = uint256(1) << 57;
    uint256 internal constant PAUSED = uint256(1) << 60;

    FakeAcl internal acl;
    FakePool internal pool;
    FakeConfigurator internal configurator;
    FakeProvider internal provider;
    T internal target;
    RiskParameterGovernor internal governor;

    function setUp() public {
        vm.warp(1_700_000_000);
        acl = new FakeAcl();
        pool = new FakePool();
        configurator = new FakeConfigurator(pool);
        provider = new FakeProvider(address(pool), address(configurator), address(acl));
        target = new T(IAaveV3AddressesProvider(address(provider)));
        governor = new RiskParameterGovernor(IRiskTarget(address(target)), OWNER, KEEPER, GUARDIAN);
        target.setGovernor(address(governor));
        acl.setRiskAdmin(address(target), true);
        // WETH: 80 % / 82.5 % / bonus 105 %, 18 decimals, active, with unrelated bits set (reserve factor, caps)
        pool.setData(WETH, word(8_000, 8_250, 10_500) | (uint256(18) << 48) | ACTIVE | (uint256(1_000) << 64));
        vm.prank(OWNER);
        governor.setBounds(WETH, bounds());
    }

    function word(uint256 ltv, uint256 lt, uint256 bonus) internal pure returns (uint256) {
        return ltv | (lt << 16) | (bonus << 32);
    }

    function bounds() internal pure returns (ParamBounds[3] memory b) {
        b[0] = ParamBounds({min: 5_000, max: 8_500, maxIncreaseBps: 50, maxDecreaseBps: 300, minDelay: 1 days});
        b[1] = ParamBounds({min: 6_000, max: 8_800, maxIncreaseBps: 50, maxDecreaseBps: 100, minDelay: 3 days});
        b[2] = ParamBounds({min: 0, max: 1_500, maxIncreaseBps: 150, maxDecreaseBps: 10_000, minDelay: 1 days});
    }

    function submit(RiskParams memory p) internal {
        vm.prank(KEEPER);
        governor.submitUpdate(WETH, p, bytes32(0), block.timestamp + 1 hours);
    }

    function expectSubmitRevert(RiskParams memory p, bytes memory err) internal {
        vm.expectRevert(err);
        submit(p);
    }

    // ------------------------------------------------------------------ reads

    function test_getRiskParams_readsTheBitmap() public view {
        RiskParams memory p = target.getRiskParams(WETH);
        assertEq(p.ltv, 8_000, "ltv");
        assertEq(p.liquidationThreshold, 8_250, "lt");
        assertEq(p.liquidationBonus, 500, "lb = bonus - 10000");
        assertTrue(target.isListedAsset(WETH), "listed");
        assertTrue(!target.isListedAsset(OTHER), "unknown asset is not listed");
    }

    function testFuzz_getRiskParams_ignoresOtherBits(uint256 noise, uint16 ltv, uint16 lt, uint16 lb) public {
        lt = uint16(bound(lt, 1, 9_000));
        lb = uint16(bound(lb, 1, 10_000));
        uint256 other = noise & ~uint256(0xFFFFFFFFFFFF) & ~(uint256(1) << 56);
        pool.setData(OTHER, other | ACTIVE | word(ltv, lt, 10_000 + uint256(lb)));
        RiskParams memory p = target.getRiskParams(OTHER);
        assertEq(p.ltv, ltv, "ltv");
        assertEq(p.liquidationThreshold, lt, "lt");
        assertEq(p.liquidationBonus, lb, "lb");
    }

    function test_getRiskParams_inactiveOrNotCollateral() public {
        vm.expectRevert(abi.encodeWithSelector(T.ReserveNotActive.selector, OTHER));
        target.getRiskParams(OTHER);
        pool.setData(OTHER, ACTIVE); // initialised, never configured as collateral
        vm.expectRevert(abi.encodeWithSelector(T.ReserveNotCollateral.selector, OTHER));
        target.getRiskParams(OTHER);
        assertTrue(!target.isListedAsset(OTHER), "not collateral is not listed");
    }

    // ------------------------------------------------------------------ writes

    function test_update_landsThroughTheGovernor() public {
        submit(RiskParams(7_900, 8_200, 600));
        uint256 data = pool.data(WETH);
        assertEq(data & 0xFFFF, 7_900, "ltv in bitmap");
        assertEq((data >> 16) & 0xFFFF, 8_200, "lt in bitmap");
        assertEq((data >> 32) & 0xFFFF, 10_600, "bonus stored as 10000 + LB");
        assertEq((data >> 64) & 0xFFFF, 1_000, "other fields untouched");
        RiskParams memory p = target.getRiskParams(WETH);
        assertEq(p.liquidationBonus, 600, "read back");
    }

    function test_setRiskParams_onlyGovernor() public {
        vm.expectRevert(abi.encodeWithSelector(T.NotGovernor.selector, KEEPER, address(governor)));
        vm.prank(KEEPER);
        target.setRiskParams(WETH, RiskParams(7_900, 8_250, 500));
    }

    function test_setGovernor_onceByDeployer() public {
        vm.expectRevert(abi.encodeWithSelector(T.GovernorAlreadySet.selector, address(governor)));
        target.setGovernor(KEEPER);
        T fresh = new T(IAaveV3AddressesProvider(address(provider)));
        vm.expectRevert(abi.encodeWithSelector(T.NotDeployer.selector, KEEPER));
        vm.prank(KEEPER);
        fresh.setGovernor(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(T.ZeroAddress.selector));
        fresh.setGovernor(address(0));
    }

    function test_pausedOrFrozenReserve_refused() public {
        uint256 data = pool.data(WETH);
        pool.setData(WETH, data | PAUSED | FROZEN);
        expectSubmitRevert(RiskParams(7_900, 8_250, 500), abi.encodeWithSelector(T.ReservePaused.selector, WETH));
        pool.setData(WETH, data | FROZEN);
        expectSubmitRevert(RiskParams(7_900, 8_250, 500), abi.encodeWithSelector(T.ReserveFrozen.selector, WETH));
        assertEq(configurator.calls(), 0, "Aave never called");
    }

    function test_withoutRole_refused_poolAdminIsEnough() public {
        acl.setRiskAdmin(address(target), false);
        expectSubmitRevert(
            RiskParams(7_900, 8_250, 500),
            abi.encodeWithSelector(T.TargetNotRiskAdmin.selector, address(target), address(acl))
        );
        acl.setPoolAdmin(address(target), true);
        submit(RiskParams(7_900, 8_250, 500));
        assertEq(configurator.calls(), 1, "sent once the role is there");
    }

    function test_zeroBonus_passesGovernor_refusedByTarget() public {
        expectSubmitRevert(RiskParams(8_000, 8_250, 0), abi.encodeWithSelector(T.AaveBonusNotAboveOne.selector, 10_000));
        assertEq(configurator.calls(), 0, "Aave never called");
    }

    function test_configuratorThatStoresNothing_reverts() public {
        configurator.setIgnore(true);
        expectSubmitRevert(
            RiskParams(7_900, 8_250, 500), abi.encodeWithSelector(T.AaveDidNotApply.selector, WETH, 8_000, 8_250, 10_500)
        );
    }

    function test_checkRiskParams_matchesSetRiskParams() public view {
        assertEq(target.checkRiskParams(WETH, RiskParams(7_900, 8_250, 500)), "", "accepted");
        assertEq(
            target.checkRiskParams(WETH, RiskParams(7_900, 0, 500)),
            abi.encodeWithSelector(T.AaveCollateralDisableNotAllowed.selector, WETH),
            "lt 0"
        );
        assertEq(
            target.checkRiskParams(OTHER, RiskParams(7_900, 8_250, 500)),
            abi.encodeWithSelector(T.ReserveNotActive.selector, OTHER),
            "unknown"
        );
    }

    // ------------------------------------------------------------------ Aave's rules

    /// @dev Aave 1.19.3 `configureReserveAsCollateral` for lt != 0, written independently of the target.
    function aaveAccepts(uint256 ltv, uint256 lt, uint256 bonus) internal pure returns (bool) {
        return ltv <= lt && bonus > 10_000 && (lt * bonus + 5_000) / 10_000 <= 10_000 && bonus <= 65_535;
    }

    function testFuzz_validateAaveParams_isAavesRule(uint16 ltv, uint16 lt, uint16 lb) public view {
        lt = uint16(bound(lt, 1, type(uint16).max));
        bytes memory err = target.validateAaveParams(RiskParams(ltv, lt, lb));
        assertTrue((err.length == 0) == aaveAccepts(ltv, lt, 10_000 + uint256(lb)), "same verdict as Aave");
    }

    function testFuzz_governorLinkedRules_implyAavesExceptZeroBonus(uint16 ltv, uint16 lt, uint16 lb) public view {
        lt = uint16(bound(lt, 1, 10_000));
        lb = uint16(bound(lb, 1, 10_000));
        ltv = uint16(bound(ltv, 0, lt - 1));
        vm.assume(uint256(lt) * (10_000 + lb) < 1e8); // the governor's LT x (1 + LB) < 100 %
        assertEq(target.validateAaveParams(RiskParams(ltv, lt, lb)), "", "the governor is the stricter");
    }

    function test_validateAaveParams_errors() public view {
        assertEq(
            target.validateAaveParams(RiskParams(8_300, 8_250, 500)),
            abi.encodeWithSelector(T.AaveLtvAboveThreshold.selector, 8_300, 8_250),
            "ltv > lt"
        );
        assertEq(target.validateAaveParams(RiskParams(8_250, 8_250, 500)), "", "ltv == lt is Aave-valid");
        assertEq(
            target.validateAaveParams(RiskParams(9_000, 9_500, 600)),
            abi.encodeWithSelector(T.AaveBonusCreatesBadDebt.selector, 9_500, 10_600),
            "lt x bonus > 100 %"
        );
        // percentMul rounds half up: 9_434 x 10_600 = 100_000_400 -> 10_000 (accepted), 9_435 -> 10_001
        assertEq(target.validateAaveParams(RiskParams(9_000, 9_434, 600)), "", "rounding: accepted");
        assertEq(
            target.validateAaveParams(RiskParams(1, 1, 60_000)),
            abi.encodeWithSelector(T.AaveFieldTooWide.selector, uint8(2), 70_000),
            "bonus wider than 16 bits"
        );
    }

    // ------------------------------------------------------------------ price source

    function test_priceFeedSource_readsTheFeed() public {
        PriceFeed feed = new PriceFeed(8, "ETH / USD", address(this));
        PriceFeedSource source = new PriceFeedSource(AggregatorV3Interface(address(feed)));
        feed.updateAnswer(2_000e8);
        vm.warp(block.timestamp + 60);
        feed.updateAnswer(2_100e8);
        assertEq(uint256(source.latestAnswer()), 2_100e8, "latest answer");
        assertEq(source.latestTimestamp(), block.timestamp, "timestamp");
        assertEq(source.latestRound(), 2, "round");
        assertEq(source.decimals(), 8, "decimals");
    }
}
